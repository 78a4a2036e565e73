"""Training, model, evaluation, review and comparison pages. Plain function views; htmx gets named partials."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from evaluation import selectors, services
from evaluation.encoders import encoder_list, pipeline_list
from evaluation.forms import ModelCompareForm, TrainingRunForm
from evaluation.models import PretrainingRun, TrainedModel
from evaluation.pretraining import selectors as pretraining_selectors
from evaluation.speeds.views import speed_context
from ner.metrics import OUTCOMES
from ner.pipelines import KNOWN_PIPELINES
from ner.train import CNN_REPRESENTATION
from projects.access import can, project_for, project_view
from projects.exceptions import Conflict
from projects.forms import add_validation_error
from projects.htmx import page_or_partial
from projects.models import Project
from projects.roles import Permission
from projects.selectors import entity_type_list, user_can


def _pretrainings(project: Project) -> list[PretrainingRun]:
    return list(pretraining_selectors.pretraining_runs_finished(project=project)[:20])


def _training_context(request: HttpRequest, project: Project, form: TrainingRunForm | None = None) -> dict:
    can_train = user_can(user=request.user, project=project, permission=Permission.TRAIN)
    suggestions = services.training_suggestions(project=project) if can_train else None
    suggested, representation = suggestions if suggestions is not None else (None, None)
    if form is None and can_train:
        pretrainings = _pretrainings(project)
        # The newest finished pretraining is the default start when the CNN would be trained: it helped on every
        # measured sample (docs/pretraining.md); an encoder, when Automatic picks one, is left alone.
        cnn = representation is None or representation.representation == CNN_REPRESENTATION
        form = TrainingRunForm(
            initial={
                **services.training_settings_defaults(),
                "model_name": services.training_model_name_suggestion(project=project),
                "pretraining": pretrainings[0].pk if pretrainings and cnn else None,
            },
            teachers=selectors.teacher_model_list(project=project),
            pretrainings=pretrainings,
        )
    if form is not None and suggested is not None:
        # The values an empty field gets, shown in it; typing a value overrides them.
        form.fields["max_steps"].widget.attrs["placeholder"] = f"{suggested.max_steps} (from the corpus size)"
        form.fields["patience"].widget.attrs["placeholder"] = f"{suggested.patience} (from the corpus size)"
    return {
        "project": project,
        "form": form,
        "can_train": can_train,
        "suggested": suggested,
        "representation": representation,
        "encoders": encoder_list() if can_train else [],
        "pipelines": pipeline_list() if can_train else [],
        "runs": selectors.training_run_list(project=project)[:50],
        **speed_context(request, project),
    }


@login_required
@require_GET
def training_run_list(request: HttpRequest, project_name: str) -> HttpResponse:
    project = project_for(request, project_name, Permission.VIEW)
    return render(request, "evaluation/training_run_list.html", _training_context(request, project))


@login_required
@require_POST
def training_run_start(request: HttpRequest, project_name: str) -> HttpResponse:
    project = project_for(request, project_name, Permission.TRAIN)
    pretrainings = _pretrainings(project)
    form = TrainingRunForm(
        request.POST, teachers=selectors.teacher_model_list(project=project), pretrainings=pretrainings
    )
    if form.is_valid():
        data = dict(form.cleaned_data)
        chosen = data.pop("pretraining", None)
        data["pretraining"] = next((run for run in pretrainings if run.pk == chosen), None)
        try:
            run = services.training_run_start(project=project, user=request.user, **data)
        except ValidationError as error:
            add_validation_error(form, error)
        else:
            messages.success(request, f"Training of {run.model_name} is queued.")
            return redirect("evaluation:training_run_list", project.name)
    return render(request, "evaluation/training_run_list.html", _training_context(request, project, form), status=400)


@project_view(Permission.VIEW)
def training_run_detail(request: HttpRequest, project: Project, run_id: int) -> HttpResponse:
    """The run's page; htmx polls get only its progress row (which stops polling once the run has finished).

    ``?compare=<model id>`` (a retrain's page) opens the comparison of that model with the new one once the run has
    succeeded: the poll that sees it finish redirects the browser, and so does a reload without JavaScript."""
    run = selectors.training_run_get(project=project, run_id=run_id)
    compare_with = _compare_with(request, project)
    new_model = getattr(run, "trained_model", None)  # none until the run has succeeded
    if compare_with is not None and run.status == run.Status.SUCCEEDED and new_model is not None:
        url = reverse("evaluation:trained_model_compare", args=[project.name])
        url += "?" + urlencode({"a": compare_with.pk, "b": new_model.pk})
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    context = {
        "project": project,
        "run": run,
        "compare_with": compare_with,
        "position": selectors.training_run_position(run=run),
        "pipeline_names": list(KNOWN_PIPELINES),
        "can_train": can(request, project, Permission.TRAIN),
    }
    return render(request, page_or_partial(request, "evaluation/training_run_detail.html", "run_row"), context)


def _compare_with(request: HttpRequest, project: Project) -> TrainedModel | None:
    """The model named by ``?compare=``, when the user may compare models; anything else is ignored, not refused,
    since the run's page is worth showing either way."""
    chosen = request.GET.get("compare", "")
    if not chosen.isdigit() or not can(request, project, Permission.EVALUATE):
        return None
    return selectors.trained_model_list(project=project).filter(pk=int(chosen)).first()


@project_view(Permission.TRAIN, methods=["POST"])
def training_run_cancel(request: HttpRequest, project: Project, run_id: int) -> HttpResponse:
    run = selectors.training_run_get(project=project, run_id=run_id)
    try:
        run = services.training_run_cancel(run=run)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if run.status == run.Status.CANCELLED:
            messages.success(request, f"Training of {run.model_name} was cancelled.")
        else:
            messages.success(request, f"Stopping the training of {run.model_name}; this takes a few seconds.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("evaluation:training_run_list", args=[project.name])
    return redirect(back)


@project_view(Permission.VIEW)
def trained_model_list(request: HttpRequest, project: Project) -> HttpResponse:
    models = list(selectors.trained_model_list(project=project))
    context = {
        "project": project,
        "models": models,
        "can_train": can(request, project, Permission.TRAIN),
        "can_compare": len(models) >= 2 and can(request, project, Permission.EVALUATE),
        "compare_form": ModelCompareForm(models=[(m.pk, m.name) for m in models]),
    }
    return render(request, "evaluation/trained_model_list.html", context)


@project_view(Permission.VIEW)
def trained_model_detail(request: HttpRequest, project: Project, model_id: int) -> HttpResponse:
    """The evaluation page: scores per type, confusion matrix (htmx toggles), guidance."""
    model = selectors.trained_model_get(project=project, model_id=model_id)
    view = selectors.evaluation_view(model=model)
    matrix = selectors.confusion_matrix_view(
        report=view.report,
        kind=request.GET.get("matrix", "weighted"),
        values=request.GET.get("values", "raw"),
        cells=request.GET.get("cells", "all"),
    )
    types = {entity_type.name: entity_type.pk for entity_type in entity_type_list(project=project)}
    merges = [
        (advice, types.get(advice.labels[0]), types.get(advice.labels[1]))
        for advice in view.advice
        if advice.kind == "confusion"
    ]
    context = {
        "project": project,
        "model": model,
        "view": view,
        "matrix": matrix,
        "merges": merges,
        "other_advice": [advice for advice in view.advice if advice.kind != "confusion"],
        "can_merge": can(request, project, Permission.MANAGE_SCHEMA),
        "can_train": can(request, project, Permission.TRAIN),
    }
    return render(request, page_or_partial(request, "evaluation/trained_model_detail.html", "matrix"), context)


def _annotate_url(project: Project, document_id: int | None) -> str | None:
    if document_id is None:
        return None
    try:
        return reverse("labeling:document_annotate", args=[project.name, document_id])
    except NoReverseMatch:  # the tagging page is optional: the document page shows the tags too
        return reverse("labeling:document_detail", args=[project.name, document_id])


@project_view(Permission.VIEW)
def trained_model_review(request: HttpRequest, project: Project, model_id: int) -> HttpResponse:
    """Every test document, gold beside predicted, worst first; filters for mismatches and entity type."""
    model = selectors.trained_model_get(project=project, model_id=model_id)
    mismatches = request.GET.get("mismatches") == "1"
    label = request.GET.get("type", "")
    # A confusion-matrix cell's link: ?gold=PERSON&predicted=ORG
    gold, predicted = request.GET.get("gold", ""), request.GET.get("predicted", "")
    cell = (gold, predicted) if gold and predicted else None
    documents = selectors.review_documents(model=model, mismatches_only=mismatches, label=label, cell=cell)
    labels = sorted(set(model.labels) | set(model.run.snapshot.span_counts.get("test", {})))
    context = {
        "project": project,
        "model": model,
        "documents": [(item, _annotate_url(project, item.prediction.document_id)) for item in documents],
        "can_annotate": can(request, project, Permission.ANNOTATE),
        "mismatches": mismatches,
        "label": label,
        "cell": cell,
        "labels": labels,
        "outcomes": OUTCOMES,
    }
    return render(request, page_or_partial(request, "evaluation/trained_model_review.html", "documents"), context)


@project_view(Permission.TRAIN, methods=["GET", "POST"])
def trained_model_delete(request: HttpRequest, project: Project, model_id: int) -> HttpResponse:
    model = selectors.trained_model_get(project=project, model_id=model_id)
    context = {"project": project, "model": model}
    if request.method == "POST":
        try:
            services.trained_model_delete(model=model)
        except Conflict as error:  # still deployed: the page says by what, and nothing is deleted
            context["refusal"] = " ".join(error.messages)
            return render(request, "evaluation/trained_model_delete.html", context, status=409)
        messages.success(request, f"Deleted model {model.name} with its evaluation.")
        return redirect("evaluation:trained_model_list", project.name)
    return render(request, "evaluation/trained_model_delete.html", context)


@project_view(Permission.EVALUATE)
def trained_model_compare(request: HttpRequest, project: Project) -> HttpResponse:
    models: list[TrainedModel] = list(selectors.trained_model_list(project=project))
    form = ModelCompareForm(request.GET or None, models=[(m.pk, m.name) for m in models])
    comparison = None
    if form.is_valid():
        by_pk = {m.pk: m for m in models}
        comparison = selectors.model_compare(a=by_pk[form.cleaned_data["a"]], b=by_pk[form.cleaned_data["b"]])
    context = {"project": project, "form": form, "comparison": comparison}
    return render(request, "evaluation/trained_model_compare.html", context, status=200 if not form.errors else 400)


@project_view(Permission.TRAIN, methods=["GET", "POST"])
def trained_model_retrain(request: HttpRequest, project: Project, model_id: int) -> HttpResponse:
    """Train again with this model's settings on today's tags; at the model limit, ask which model to replace."""
    model = selectors.trained_model_get(project=project, model_id=model_id)
    at_limit = selectors.trained_models_at_limit(project=project)
    replaceable = selectors.replaceable_model_list(project=project)
    context: dict = {"project": project, "model": model, "at_limit": at_limit, "replaceable": replaceable}
    if request.method == "POST":
        replace = None
        if at_limit:
            chosen = request.POST.get("replace", "")
            replace = replaceable.filter(pk=int(chosen)).first() if chosen.isdigit() else None
            if replace is None:
                context["error"] = "Choose the model the new one replaces."
                return render(request, "evaluation/trained_model_retrain.html", context, status=400)
        try:
            run = services.training_run_retrain(model=model, user=request.user, replace=replace)
        except (ValidationError, Conflict) as error:
            context["error"] = " ".join(error.messages)
            return render(request, "evaluation/trained_model_retrain.html", context, status=400)
        replaced = f", replacing {replace.name}" if replace is not None else ""
        messages.success(
            request, f"Training of {run.model_name} is queued with the settings of {model.name}{replaced}."
        )
        detail = reverse("evaluation:training_run_detail", args=[project.name, run.pk])
        return redirect(f"{detail}?{urlencode({'compare': model.pk})}")
    return render(request, "evaluation/trained_model_retrain.html", context)


@project_view(Permission.ANNOTATE, methods=["POST"])
def trained_model_review_fix(request: HttpRequest, project: Project, model_id: int, prediction_id: int) -> HttpResponse:
    """ "Fix" on a review row: the model's predictions become the document's suggestions, then the tagging page opens
    at the first error, with a link back to the same place in the review."""
    model = selectors.trained_model_get(project=project, model_id=model_id)
    prediction = selectors.review_prediction_get(model=model, prediction_id=prediction_id)
    back = request.POST.get("back", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("evaluation:trained_model_review", args=[project.name, model.pk])
    try:
        document = services.review_fix_prepare(model=model, prediction=prediction)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(back)
    query = urlencode({"back": f"{back}#review-{prediction.pk}", "at": request.POST.get("at", "")})
    return redirect(f"{reverse('labeling:document_annotate', args=[project.name, document.pk])}?{query}")
