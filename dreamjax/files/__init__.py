"""File I/O: images, atomic writes, checkpoint reading without unpickling code, synthetic starts."""
