-- compose.yaml: one database per service on the first start of the PostgreSQL container
CREATE DATABASE mlflow;
CREATE DATABASE prefect;
