"""Whole-file jobs behind the CLI: transcode a video, decode a stream, cut a
stream's rank, and the offline demo. Each takes paths and options, writes its
output atomically, and returns a report. Jobs never print and install no signal
handlers: they report through callbacks (progress.py), and the CLI prints."""
