"""Documents: image vs PDF agreement, the --pdf_dpi choice, pages/s and memory (the same as `paddle-pp bench_docs`)."""
import sys

from paddle_pp.tools.bench_documents import main

if __name__ == "__main__":
    sys.exit(main())
