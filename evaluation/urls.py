from __future__ import annotations

from django.urls import include, path

from evaluation import views

project = "projects/<str:project_name>"
pages = [
    path(f"{project}/training/", views.training_run_list, name="training_run_list"),
    path(f"{project}/training/start/", views.training_run_start, name="training_run_start"),
    path(f"{project}/training/<int:run_id>/", views.training_run_detail, name="training_run_detail"),
    path(f"{project}/training/<int:run_id>/cancel/", views.training_run_cancel, name="training_run_cancel"),
    path(f"{project}/models/", views.trained_model_list, name="trained_model_list"),
    path(f"{project}/models/compare/", views.trained_model_compare, name="trained_model_compare"),
    path(f"{project}/models/<int:model_id>/", views.trained_model_detail, name="trained_model_detail"),
    path(f"{project}/models/<int:model_id>/review/", views.trained_model_review, name="trained_model_review"),
    path(f"{project}/models/<int:model_id>/retrain/", views.trained_model_retrain, name="trained_model_retrain"),
    path(
        f"{project}/models/<int:model_id>/review/<int:prediction_id>/fix/",
        views.trained_model_review_fix,
        name="trained_model_review_fix",
    ),
    path(f"{project}/models/<int:model_id>/delete/", views.trained_model_delete, name="trained_model_delete"),
]

# The app's own pages keep the "evaluation" namespace; each feature's pages keep theirs (preannotation:, curves:,
# lineage:), so that no URL name changes with the move.
urlpatterns = [
    path("", include((pages, "evaluation"))),
    path("", include("evaluation.preannotation.urls")),
    path("", include("evaluation.learning_curve.urls")),
    path("", include("evaluation.lineage.urls")),
    path("", include("evaluation.pretraining.urls")),
]
