"""How many cores each native library may use, set once and deliberately from `Settings`.

On two cores OpenBLAS's own pool (two spinning threads for one 4,000 × 384 product per
question) fought the fuzzy scorer and the embedding thread and doubled the time of a search
(21 → 12.7 ms median, docs/performance.md). The other libraries take their counts where
they are built: onnxruntime and torch `embedding_threads`, Whisper `asr_threads`.
"""

from __future__ import annotations

import os

from threadpoolctl import threadpool_limits


def limit_native_threads(blas_threads: int) -> None:
    """BLAS and OpenMP pools of this process (numpy, scipy, torch's OpenMP) to `blas_threads`.

    threadpoolctl reaches the libraries already loaded; the variables cover those loaded later.
    """
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(blas_threads)
    threadpool_limits(limits=blas_threads, user_api="blas")
    threadpool_limits(limits=blas_threads, user_api="openmp")
