from django.urls import path

from knowledge.live import views

app_name = "live"

urlpatterns = [
    path("conversations/<int:conversation_id>/", views.page, name="page"),
    path("conversations/<int:conversation_id>/offer", views.offer, name="offer"),
    path("conversations/<int:conversation_id>/end", views.end, name="end"),
]
