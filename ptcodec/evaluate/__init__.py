"""`ptcodec evaluate`: rate-quality comparisons of ptcodec against pixel codecs, with named metrics."""
