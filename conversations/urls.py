from django.urls import path

from conversations import views

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/rows/", views.inbox_rows, name="inbox-rows"),
    path("inbox/<int:pk>/", views.thread, name="conversation-thread"),
    path("inbox/<int:pk>/messages/", views.thread_messages, name="conversation-messages"),
    path("inbox/<int:pk>/reply/", views.reply, name="conversation-reply"),
    path("inbox/<int:pk>/notes/", views.note_add, name="conversation-note"),
    path("inbox/<int:pk>/assign/", views.assign, name="conversation-assign"),
    path("inbox/<int:pk>/close/", views.close, name="conversation-close"),
    path("inbox/<int:pk>/reopen/", views.reopen, name="conversation-reopen"),
]
