from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.utils.functional import lazy
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from projects.api import api_not_found

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file (?script=), as the CSP requires.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Browsers ask for /favicon.ico on their own (a JSON answer has no <link rel="icon">). Lazy: the static file's
    # hashed name is known only once collectstatic has run, and `manage.py check` imports this before.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("favicon.svg")), name="favicon"),
    path("", include("projects.urls")),
    path("", include("labeling.urls")),
    path("", include("labeling.consistency_urls")),
    path("", include("labeling.agreement_urls")),
    path("", include("labeling.audit_urls")),
    path("", include("labeling.entity_type_urls")),
    path("", include("evaluation.urls")),
    path("", include("evaluation.preannotation_urls")),
    path("", include("evaluation.learning_curve_urls")),
    path("", include("evaluation.lineage_urls")),
    path("", include("serving.urls")),
    path("", include("portability.urls")),
    # Last: an API path that names no resource (an id that is not a number, a typo) answers the API's JSON 404.
    re_path(r"^api/v1/(?P<unmatched>[\s\S]*)$", api_not_found, name="api-not-found"),
]
