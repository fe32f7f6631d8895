"""``GAN.train_step(state, data)`` on Keras' JAX backend: the kind's step (``_gan_step``),
stateless, inside Keras' own jitted ``fit`` loop (the primitives of :mod:`kgan.trainers.base`).

Keras' JAX trainer calls ``train_step(state, data)`` with
``state = (trainable, non_trainable, optimizer, metrics)`` variable values and expects
``(logs, state)`` back (keras.io, "Customizing what happens in fit() with JAX"). The step
here:

1. opens one ``keras.StatelessScope`` that maps every variable the step may touch to its
   value in ``state``: the model's trainable and non-trainable variables (G, D, ADA's p),
   ``model.optimizer.variables`` (both players' optimizers: see
   :class:`kgan.trainers.base.OptimizerPair`) and the trackers' variables;
2. runs the kind's step. Its network calls, ``tracker.update_state`` and ``ada_p.assign``
   read and write through that scope, which is what ``stateless_call`` and
   ``stateless_update_state`` do one object at a time. The primitives below differentiate
   with ``jax.vjp`` over a copy of the scope (so BatchNorm statistics, dropout seeds and
   metrics updated inside a differentiated function come out as values, not leaked
   tracers) and update with ``optimizer.stateless_apply``;
3. reads every variable's new value back from the scope into the returned state.

Draws come from ``jax.random`` keyed on ``fold_in(fold_in(key(seed), step), stream)``: the
same streams as TensorFlow's, other numbers (the generators differ, not the
distributions). Under ``keras.distribution.DataParallel`` the step sees the global batch,
so there is no per-replica slicing or division.
"""

import jax
import jax.numpy as jnp
import keras
from keras.src.backend.common.stateless_scope import get_stateless_scope

from kgan.trainers.base import Trainer


class JAXTrainer(Trainer):
    """The JAX half of ``kgan.GAN``'s training (Keras' ``train_step(self, state, data)``)."""

    def train_step(self, state, data):
        trainable, non_trainable, optimizer_values, metrics_values = state
        groups = self._state_groups()
        mapping = [pair for variables, values in zip(groups, state)
                   for pair in zip(variables, values)]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs = self._gan_step(data)
        new_state = tuple(
            [_current(scope, v, old) for v, old in zip(variables, values)]
            for variables, values in zip(groups, (trainable, non_trainable, optimizer_values,
                                                 metrics_values)))
        return logs, new_state

    def _state_groups(self):
        """The variable lists of Keras' JAX state, in its order."""
        return (self.trainable_variables, self.non_trainable_variables,
                self.optimizer.variables, self.metrics_variables)

    # ------------------------------------------------------------------ primitives
    def _value_and_grads(self, fn, variable_lists):
        scope = _scope()
        primals = [[_current(scope, v) for v in variables] for variables in variable_lists]
        losses, aux, cotangent_grads = _vjp_with_state(
            lambda values: fn(), primals, variables=variable_lists)
        grads = [cotangent_grads[i][i] for i in range(len(variable_lists))]
        return losses, aux, grads

    def _input_gradients(self, critic, x):
        def fn(x_):
            return (jnp.sum(critic(x_)),), None

        _, _, grads = _vjp_with_state(fn, x)
        return grads[0]

    def _apply(self, optimizer, grads, variables):
        scope = _scope()
        built = list(getattr(optimizer, "_trainable_variables", variables))
        if [id(v) for v in built] != [id(v) for v in variables]:
            by_id = {id(v): g for v, g in zip(variables, grads)}
            grads = [by_id[id(v)] for v in built]
        new_values, new_optimizer = optimizer.stateless_apply(
            [_current(scope, v) for v in optimizer.variables], list(grads),
            [_current(scope, v) for v in built])
        for v, value in zip(built, new_values):
            scope.add_update((v, value))
        for v, value in zip(optimizer.variables, new_optimizer):
            scope.add_update((v, value))

    def _random(self, kind, batch, tail, stream, fold=None):
        key = jax.random.fold_in(jax.random.key(self.seed), self._step_counter())
        key = jax.random.fold_in(key, stream)
        if fold is not None:
            key = jax.random.fold_in(key, fold)
        shape = (batch, *tail)
        if kind == "normal":
            return jax.random.normal(key, shape, "float32")
        return jax.random.uniform(key, shape, "float32")


def _scope():
    scope = get_stateless_scope()
    if scope is None:
        raise RuntimeError("kgan's JAX training primitives run inside GAN.train_step's "
                           "StatelessScope (model.fit / train_on_batch).")
    return scope


def _current(scope, variable, default=None):
    value = scope.get_current_value(variable)
    if value is not None:
        return value
    return variable.value if default is None else default


class _DifferentiatedScope(keras.StatelessScope):
    """The scope a differentiated function runs in: a copy of the enclosing one, with the
    variables being differentiated bound to the traced primals.

    A layer that assigns one of those variables in its forward pass (Keras'
    ``SpectralNormalization`` writes ``W / sigma(W)`` into its kernel in training) gets
    TensorFlow's ``GradientTape`` semantics: later reads see the assigned value, the
    gradient reaches the variable as if that value were the variable (not through the
    assignment's computation), and the assigned value is what the variable holds afterwards.
    """

    def __init__(self, outer, bound):
        super().__init__()
        self.state_mapping = dict(outer.state_mapping)
        self.bound = bound  # id(variable) -> primal
        self.state_mapping.update(bound)
        self.assigned = {}  # id(variable) -> variable, for every assignment

    def add_update(self, update):
        variable, value = update
        self.assigned[id(variable)] = variable
        primal = self.bound.get(id(variable))
        if primal is not None:
            # Forward: exactly the assigned value; backward: the identity to the primal.
            value = jax.lax.stop_gradient(value) + (primal - jax.lax.stop_gradient(primal))
        self.state_mapping[id(variable)] = value


def _vjp_with_state(fn, primals, variables=None):
    """``jax.vjp`` of ``fn(primals) -> (outputs, aux)`` where ``fn`` may read and assign Keras
    variables through the enclosing StatelessScope.

    With ``variables`` (lists shaped like ``primals``), those variables read as the primals
    inside ``fn``. ``fn`` runs in a copy of the enclosing scope (:class:`_DifferentiatedScope`);
    the variables it assigns (BatchNorm statistics, seed generators, trackers) come out of
    the traced function as auxiliary values and are written to the enclosing scope
    afterwards, so no tracer escapes. Returns ``(outputs, aux, grads)``, ``grads[i]`` the
    gradient of ``outputs[i]`` with respect to ``primals`` (one pullback per output).
    """
    outer = _scope()
    flat = [v for group in variables for v in group] if variables is not None else []

    def pure(primals_):
        values = [x for group in primals_ for x in group] if variables is not None else []
        bound = {id(v): x for v, x in zip(flat, values)}
        inner = _DifferentiatedScope(outer, bound)
        with inner:
            outputs, aux = fn(primals_)
        updates = {}
        for k, value in inner.state_mapping.items():
            if k in bound:
                if value is not bound[k]:  # assigned in the forward pass
                    updates[k] = jax.lax.stop_gradient(value)
            elif outer.state_mapping.get(k) is not value:
                updates[k] = value
        assigned.update(inner.assigned)
        return tuple(outputs), (aux, updates)

    assigned = {}
    outputs, pullback, (aux, updates) = jax.vjp(pure, primals, has_aux=True)
    for k, value in updates.items():
        # Through add_update, so that an enclosing _DifferentiatedScope (penalties inside a
        # loss) sees the assignments too.
        outer.add_update((assigned[k], value))
    grads = []
    for i in range(len(outputs)):
        cotangent = tuple(jnp.ones_like(o) if j == i else jnp.zeros_like(o)
                          for j, o in enumerate(outputs))
        (grad,) = pullback(cotangent)
        grads.append(grad)
    return outputs, aux, grads
