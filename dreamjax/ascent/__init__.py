"""The DeepDream algorithm: the ascent step, octaves, objectives, regularisers and tiling."""
