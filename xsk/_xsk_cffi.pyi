# The compiled cffi module (built from xsk/_ffi by build.py). What its ``lib`` holds and what
# its structs look like are C's, declared once in the units' headers and checked by cffi
# against the C compiler when the module is built; Python's type checker sees them as Any.
from typing import Any

ffi: Any
lib: Any
