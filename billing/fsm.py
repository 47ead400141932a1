"""django-fsm glue: a refresh_from_db that is safe when several threads run.

django-fsm's FSMModelMixin.refresh_from_db switches `protected` off on the *field*
(shared by every instance in every thread), reloads, and switches it back on. Two
threads refreshing at once race: the first to finish re-protects the field while
the second is still assigning, which fails with "Direct state modification is not
allowed" and rolls back that clerk's allocation (found by the bench's 4-clerk run).
Here the protected fields are taken out of the instance's __dict__ instead, so the
descriptor lets the reload assign them and the field's flag is never touched.
"""

from __future__ import annotations

from django_fsm import FSMFieldMixin, FSMModelMixin


class ThreadSafeFSMModelMixin(FSMModelMixin):
    def refresh_from_db(self, using=None, fields=None, from_queryset=None) -> None:
        protected = {
            f.attname for f in self._meta.concrete_fields if isinstance(f, FSMFieldMixin) and f.protected
        }
        reload_all = fields is None
        if reload_all:
            # Name what is loaded now, or Django would take the fields we lift out for deferred ones.
            deferred = self.get_deferred_fields()
            fields = [f.attname for f in self._meta.concrete_fields if f.attname not in deferred]
        fields = list(fields)
        lifted = {name: self.__dict__.pop(name) for name in protected & set(fields) if name in self.__dict__}
        try:
            super(FSMModelMixin, self).refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)
        except BaseException:
            for name, value in lifted.items():
                self.__dict__.setdefault(name, value)
            raise
        if reload_all:
            # What Model.refresh_from_db(fields=None) also forgets.
            self._prefetched_objects_cache = {}
            for relation in [*self._meta.related_objects, *self._meta.private_fields]:
                if relation.is_relation and relation.is_cached(self):
                    relation.delete_cached_value(self)
