"""Pure algorithms over pixels, frames and text (scene cuts, OCR keyframes, phonetic keys, perceptual
hashes): they import only media/, encoders/ and numpy, never the catalog, vectors or queries."""
