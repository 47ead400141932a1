"""Protected FSM fields that can be refreshed from the database safely under threads.

django-fsm's FSMModelMixin.refresh_from_db flips `field.protected` off and on again
on the field object, which every model instance in every thread shares: while one
thread refreshes, another thread's refresh can find protection back on and fail
with "Direct state modification is not allowed". Here the exemption is a
thread-local flag read by the field's descriptor, so it applies to the refreshing
thread only. Direct assignment stays forbidden everywhere else.
"""

from __future__ import annotations

import threading

from django.db import models
from django_fsm import FSMField, FSMFieldDescriptor

_loading = threading.local()


class _Descriptor(FSMFieldDescriptor):
    def __set__(self, instance, value) -> None:
        if getattr(_loading, "depth", 0):
            self.field.set_proxy(instance, value)
            self.field.set_state(instance, value)
            return
        super().__set__(instance, value)


class StatusField(FSMField):
    """An FSMField (same column, same migrations) whose protection is refresh-safe."""

    descriptor_class = _Descriptor

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "django_fsm.FSMField", args, kwargs


class RefreshableFSMModel(models.Model):
    """Use instead of django_fsm.FSMModelMixin for models with protected StatusFields."""

    class Meta:
        abstract = True

    def refresh_from_db(self, *args, **kwargs) -> None:
        _loading.depth = getattr(_loading, "depth", 0) + 1
        try:
            super().refresh_from_db(*args, **kwargs)
        finally:
            _loading.depth -= 1
