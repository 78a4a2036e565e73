"""Admin for projects. Secrets (invitation tokens, API keys) are created only in the app, which shows them once;
here they are listed, inspected and revoked."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from projects.models import ApiKey, EntityType, Invitation, Membership, Project


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "language", "multilingual", "label_mode", "split_mode", "created_by", "created_at"]
    list_filter = ["language", "multilingual", "label_mode", "split_mode"]
    search_fields = ["name", "description"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["project__name", "user__username"]
    autocomplete_fields = ["project", "user"]


@admin.register(EntityType)
class EntityTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "color", "hotkey"]
    search_fields = ["name", "project__name"]
    list_filter = ["project"]
    autocomplete_fields = ["project"]


@admin.action(description="Revoke the selected invitations")
def revoke_invitations(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["project", "role", "email", "created_by", "created_at", "expires_at", "accepted_by", "revoked_at"]
    list_filter = ["role"]
    search_fields = ["project__name", "email"]
    readonly_fields = ["token_hash", "created_by", "created_at", "accepted_by", "accepted_at"]
    actions = [revoke_invitations]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the link is shown once when created on the members page


@admin.action(description="Revoke the selected API keys")
def revoke_api_keys(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "user", "project", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username", "project__name"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at"]
    actions = [revoke_api_keys]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the key is shown once when created on the API keys page
