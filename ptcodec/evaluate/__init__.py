"""`ptcodec evaluate`: rate-quality comparisons of ptcodec against pixel and neural codecs."""
