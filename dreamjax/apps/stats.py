"""What many dreams cost together: the frames of a zoom stream, the batches of a folder."""

from __future__ import annotations

from ..ascent.engine import DreamStats


def add_stats(total: DreamStats, stats: DreamStats) -> DreamStats:
    """Add one dream's counts and seconds into ``total`` (in place, and returned); shapes: the first's."""
    total.images += stats.images
    total.ascent_steps += stats.ascent_steps
    total.compile_seconds += stats.compile_seconds
    total.run_seconds += stats.run_seconds
    total.programs_compiled += stats.programs_compiled
    total.programs_from_disk += stats.programs_from_disk
    total.estimated_bytes = max(total.estimated_bytes, stats.estimated_bytes)
    total.shapes = total.shapes or stats.shapes
    return total


def cost_summary(stats: DreamStats) -> str:
    """``compile 1.2 s (4 programs, 0 from cache), ascent 3.4 s``: compile time kept apart."""
    return (f"compile {stats.compile_seconds:.1f} s ({stats.programs_compiled} programs, "
            f"{stats.programs_from_disk} from cache), ascent {stats.run_seconds:.1f} s")
