"""Fault injection for kill tests: image files are written slowly, in pieces; SIGINT raises.

A subprocess with this folder on PYTHONPATH (and DREAMJAX_TEST_SLOW_WRITES=1) writes every
PIL image in 16 pieces with a pause between them, so a test can kill it while a file is
half written and check that the half never becomes the output.
"""

import os
import signal

# As under a terminal: a shell without job control starts background jobs (so maybe this test
# run) with SIGINT ignored, and the CLI under test would inherit that; Ctrl-C must reach it.
signal.signal(signal.SIGINT, signal.default_int_handler)

if os.environ.get("DREAMJAX_TEST_SLOW_WRITES") == "1":
    import io
    import time

    from PIL import Image

    _save = Image.Image.save

    def _slow_save(self, fp, format=None, **params):
        buf = io.BytesIO()
        _save(self, buf, format=format, **params)
        data = buf.getvalue()
        step = max(1, len(data) // 16)
        with open(fp, "wb") as f:
            for start in range(0, len(data), step):
                f.write(data[start : start + step])
                f.flush()
                time.sleep(0.1)

    Image.Image.save = _slow_save
