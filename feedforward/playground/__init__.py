"""``feedforward playground``: the lecture you can touch, a browser app on the real engine (L-PLAY-1).

TensorFlow Playground's single screen (data | network | output, read left to right), but the
network is this library's: every hidden unit of the lecture with its slope or alpha, the
output units as likelihoods, stochastic / minibatch / batch learning with a growing batch,
the ``||grad J|| < theta`` stop, SGD with momentum or Nesterov and Adam, dead and saturated
units marked, the exact constructions of :mod:`feedforward.construct` in lecture mode, and
the trained network exported as a model file that :func:`feedforward.load` opens.

=====================  =======================================================================
:mod:`.datasets`       the data sets and input features
:mod:`.config`         what a page may ask for: one checked settings object, and the bounds
:mod:`.session`        a tab's session: data, network, the real trainer, model files
:mod:`.views`          a frame: region, units, weights, numbers, curves
:mod:`.lecture`        lecture mode: XOR by hand, polygons and unions, square pulses
:mod:`.server`         the Starlette app: the page, a WebSocket per tab, the limits
:mod:`.command`        the ``feedforward playground`` command
``static/``            the page: HTML, CSS and plain JS modules, served from the package
=====================  =======================================================================

Needs the ``playground`` extra: ``pip install "feedforward[playground]"``.
"""

from .command import DEFAULT_PORT, make_server, playground, serve

__all__ = ["serve", "make_server", "playground", "DEFAULT_PORT"]
