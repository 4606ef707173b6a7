"""The XLA runtime: compiler options, compilation cache, memory estimates, devices, several hosts."""
