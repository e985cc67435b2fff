"""Training: geometry, data, model, losses, metrics, baselines.

Importing the package quietens TensorFlow before any module of it imports TensorFlow:
its C++ info and warning lines (CPU feature notes at every start) read as failures to
users on a CPU machine, while errors stay visible; and Keras warns about QKeras
quantisers each time a model is saved or loaded, which says nothing actionable.
"""

import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore", message=r"The `keras\.constraints\.serialize\(\)` API",
                        category=UserWarning)
