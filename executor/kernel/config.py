"""The kernel's configuration: the JSON the Go executor passes as argv[1].

The values below are the defaults; load sets them from the configuration
before the kernel starts. Other modules read them as config.NAME when they
need them (never `from .config import NAME`, which would keep the default).
"""

import base64

MEMORY = 0  # RLIMIT_AS of the kernel and its executions (0: none)
TMP_SIZE = 64 << 20  # the private /tmp of each execution, and its largest file
MAX_OUTPUT = 1 << 20  # stdout and stderr of an execution, each
MAX_RESULT = 64 << 20  # figures, images, tables of an execution
NOFILE = 1024
NPROC = 256
ISOLATE = True  # enter namespaces of the kernel's own (false: development only)
# The execution seccomp filter (classic BPF, struct sock_filter[]), assembled by
# the Go side (seccomp.go); each execution loads it once its sandbox is set up.
SECCOMP_FILTER = b""
# The heap's growth ahead of the imports and the load (hugepages): a quarter
# of the address-space limit at most, as it counts in it until the load is
# over.
HEAP_RESERVE = 512 << 20
# The limits on a dataset file (limits.py): its columns, the bytes of a line
# of a CSV file, the bytes an Excel workbook inflates to and the ratio a
# large part of it inflates by.
MAX_COLUMNS = 1000
MAX_LINE = 1 << 20
XLSX_MAX_UNCOMPRESSED = 512 << 20
XLSX_MAX_RATIO = 100
# The output folder of an execution, whose files are sent back with its
# result (outputs.py), and their limits: how many, and their bytes together.
OUTPUT_DIR = "/tmp/outputs"
OUTPUT_MAX_FILES = 10
OUTPUT_MAX_BYTES = 20 << 20


def load(cfg):
    """Sets the configuration from cfg, the decoded JSON of argv[1]."""
    global MEMORY, TMP_SIZE, MAX_OUTPUT, MAX_RESULT, NOFILE, NPROC, ISOLATE, SECCOMP_FILTER, HEAP_RESERVE
    global MAX_COLUMNS, MAX_LINE, XLSX_MAX_UNCOMPRESSED, XLSX_MAX_RATIO
    global OUTPUT_MAX_FILES, OUTPUT_MAX_BYTES
    MEMORY = int(cfg.get("memory") or 0)
    TMP_SIZE = int(cfg.get("tmp_size") or (64 << 20))
    MAX_OUTPUT = int(cfg.get("max_output") or (1 << 20))
    MAX_RESULT = int(cfg.get("max_result") or (64 << 20))
    NOFILE = int(cfg.get("nofile") or 1024)
    NPROC = int(cfg.get("nproc") or 256)
    ISOLATE = bool(cfg.get("isolate", True))
    SECCOMP_FILTER = base64.b64decode(cfg["seccomp"]) if cfg.get("seccomp") else b""
    HEAP_RESERVE = min(512 << 20, MEMORY // 4) if MEMORY > 0 else 512 << 20
    MAX_COLUMNS = int(cfg.get("max_columns") or 1000)
    MAX_LINE = int(cfg.get("max_line") or (1 << 20))
    XLSX_MAX_UNCOMPRESSED = int(cfg.get("xlsx_max_uncompressed") or (512 << 20))
    XLSX_MAX_RATIO = int(cfg.get("xlsx_max_ratio") or 100)
    OUTPUT_MAX_FILES = int(cfg.get("output_max_files") or 10)
    OUTPUT_MAX_BYTES = int(cfg.get("output_max_bytes") or (20 << 20))
