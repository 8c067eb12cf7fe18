"""Models-from-code entry point: MLflow runs this file to build the served model (see cleargate.serving.pyfunc).

Only MLflow executes it (at logging and loading time); nothing in cleargate imports it.
"""

import mlflow

from cleargate.serving.pyfunc import RecordClassifier

mlflow.models.set_model(RecordClassifier())
