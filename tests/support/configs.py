"""Workspace configurations shared by the server and monitoring tests."""

#: A LogisticRegression classifier (``credit``) and a small forest regressor (``price``) on the demo data.
LR_AND_FOREST_REGRESSOR = """\
models:
  credit:
    task: classification
    target: approved
    dataset: agrawal
    entrypoint: modelward.demo:train_logistic_regression
    params: {max_iter: 300}
  price:
    task: regression
    target: salary
    dataset: agrawal
    features: [age, loan, hvalue, car]
    entrypoint: modelward.demo:train_random_forest_regressor
    params: {n_estimators: 5, max_depth: 4, random_state: 0}
"""
