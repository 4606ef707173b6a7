"""Applications on top of the algorithm: folders of photos, zoom streams, presets, benchmarks."""
