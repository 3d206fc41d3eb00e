from django.http import HttpRequest, HttpResponse


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Sportello")


def login_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("login")
