import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

pytest_plugins = ["pytester"]  # tests/unit/test_plugin.py runs the xsk plugin in inner pytest sessions
