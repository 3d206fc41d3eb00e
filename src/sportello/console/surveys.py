"""Console > Satisfaction survey: each department's survey settings (`surveys.policies`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from sportello.accounts.models import Department
from sportello.core import clock
from sportello.core.errors import NotFound, ValidationFailed
from sportello.surveys import policies

from .views import admin_required, current_admin, render_console


class PolicyForm(forms.Form):
    enabled = forms.BooleanField(
        label=_("Send a satisfaction survey after a ticket is solved"), required=False
    )
    delay_minutes = forms.IntegerField(
        label=_("Delay after solving (minutes)"), min_value=0, max_value=policies.DELAY_MAX
    )
    channels = forms.MultipleChoiceField(
        label=_("Channels"),
        required=False,
        choices=[("email", _("E-mail")), ("portal", _("Customer portal"))],
        widget=forms.CheckboxSelectMultiple,
    )
    scale = forms.ChoiceField(
        label=_("Rating scale"),
        choices=[("good_bad", _("Good / bad")), ("five", _("1 to 5"))],
        widget=forms.RadioSelect,
    )
    ask_ces = forms.BooleanField(
        label=_("Also ask how easy it was (customer effort, 1–7)"),  # noqa: RUF001
        required=False,
    )
    ask_nps = forms.BooleanField(
        label=_("Also ask whether they would recommend us (NPS, 0–10)"),  # noqa: RUF001
        required=False,
    )
    reminder_hours = forms.IntegerField(
        label=_("Reminder after (hours; empty: no reminder)"),
        required=False,
        min_value=1,
        max_value=policies.REMINDER_MAX,
    )
    window_days = forms.IntegerField(
        label=_("Answers accepted for (days)"), min_value=1, max_value=policies.WINDOW_MAX
    )


@admin_required
@require_http_methods(["GET", "POST"])
def surveys(request: HttpRequest) -> HttpResponse:
    departments = list(Department.objects.filter(is_active=True).order_by("name"))
    if not departments:
        return render_console(request, "console/surveys.html", {"section": "surveys", "departments": []})
    raw = request.GET.get("department") or request.POST.get("department") or ""
    chosen = next((d for d in departments if str(d.pk) == raw), departments[0])
    saved = request.GET.get("saved") == "1"
    status = 200
    if request.method == "POST":
        form = PolicyForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                policies.survey_policy_save(
                    actor=current_admin(request), department_id=chosen.pk, now=clock.now(),
                    data=policies.PolicyIn(
                        enabled=data["enabled"], delay_minutes=data["delay_minutes"],
                        channels=tuple(data["channels"]), scale=data["scale"], ask_ces=data["ask_ces"],
                        ask_nps=data["ask_nps"], reminder_hours=data["reminder_hours"],
                        window_days=data["window_days"],
                    ),
                )  # fmt: skip
            except ValidationFailed as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            except NotFound:
                form.add_error(None, _("This department no longer exists."))
            else:
                return redirect(f"{reverse('console:surveys')}?department={chosen.pk}&saved=1")
        status = 422
    else:
        current = policies.policy_definition(policies.policy_for(department_id=chosen.pk))
        form = PolicyForm(initial=current)
    context: dict[str, Any] = {
        "section": "surveys",
        "departments": departments,
        "chosen": chosen,
        "form": form,
        "saved": saved,
    }
    return render_console(request, "console/surveys.html", context, status=status)


urlpatterns = [path("surveys/", surveys, name="surveys")]
