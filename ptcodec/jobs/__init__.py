"""Whole-file jobs behind the CLI: transcode a video, decode a stream, cut a
stream's rank, and the offline demo. Each takes paths and options, writes its
output atomically, and returns a report; the CLI only parses and prints."""
