from __future__ import annotations

from django.urls import include, path

from evaluation import views
from projects.routes import PROJECT

training_run = [
    path("", views.training_run_detail, name="training_run_detail"),
    path("cancel/", views.training_run_cancel, name="training_run_cancel"),
]
trained_model = [
    path("", views.trained_model_detail, name="trained_model_detail"),
    path("review/", views.trained_model_review, name="trained_model_review"),
    path("retrain/", views.trained_model_retrain, name="trained_model_retrain"),
    path("review/<int:prediction_id>/fix/", views.trained_model_review_fix, name="trained_model_review_fix"),
    path("delete/", views.trained_model_delete, name="trained_model_delete"),
]
pages = [
    path("training/", views.training_run_list, name="training_run_list"),
    path("training/start/", views.training_run_start, name="training_run_start"),
    path("training/<int:run_id>/", include(training_run)),
    path("models/", views.trained_model_list, name="trained_model_list"),
    path("models/compare/", views.trained_model_compare, name="trained_model_compare"),
    path("models/<int:model_id>/", include(trained_model)),
]

# The app's own pages keep the "evaluation" namespace; each feature's pages keep theirs (preannotation:, curves:,
# lineage:), so that no URL name changes with the move.
urlpatterns = [
    path(PROJECT, include((pages, "evaluation"))),
    path("", include("evaluation.preannotation.urls")),
    path("", include("evaluation.learning_curve.urls")),
    path("", include("evaluation.lineage.urls")),
    path("", include("evaluation.pretraining.urls")),
    path("", include("evaluation.speeds.urls")),
]
