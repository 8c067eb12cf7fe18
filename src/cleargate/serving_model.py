"""Models-from-code entry point: MLflow runs this file to build the served model (see cleargate.serving).

Only MLflow executes it (at logging and loading time); nothing in cleargate imports it.
"""

import mlflow

from cleargate.serving import RecordClassifier

mlflow.models.set_model(RecordClassifier())
