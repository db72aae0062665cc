"""The real URLs plus views that fail on purpose, to test how failures are answered."""

from django.urls import path
from rest_framework.permissions import AllowAny

from persona_platform.api.dialects import BHUMAN, TWINTONE, DialectView
from persona_platform.urls import handler404, handler500, urlpatterns  # noqa: F401


class BoomView(DialectView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("secret internals")


class TwinToneBoomView(BoomView):
    dialect = TWINTONE


class BHumanBoomView(BoomView):
    dialect = BHUMAN


def plain_boom(request):
    raise RuntimeError("secret internals")


urlpatterns = [
    path("api/v1/boom", BoomView.as_view()),
    path("api/v1/plain-boom", plain_boom),
    path("v1/boom", TwinToneBoomView.as_view()),
    path("persona/api/boom", BHumanBoomView.as_view()),
    *urlpatterns,
]
