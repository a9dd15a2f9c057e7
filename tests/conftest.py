"""Test-session setup.

scikit-learn's estimator checks include ``check_array_api_input`` (array API dispatch
switched on, numpy inputs: results must not change). It runs only when SciPy reads
``SCIPY_ARRAY_API=1`` at import, so it is set here, before anything imports SciPy.
"""

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")
