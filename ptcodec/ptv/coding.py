"""The state that coded keyframes carry from one to the next within a scene (spec 7.5).

A keyframe of a coded scheme may be *predicted* (its codes are coded against the
codes that the previous keyframe's factors requantize to) and may *carry models*
(its range coder starts from the model state that the previous keyframe's coder
ended with). Both need the previous keyframe of the same scene, so a coded stream
is decoded, and written, in stream order from a random access point, as the rest
of a scene already is. FactorCoding holds that state for the reader, the writer
and the decoder alike.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ptcodec.errors import InvalidValueError
from ptcodec.ptv import syntax
from ptcodec.ptv.units import Keyframe, SceneInit, SequenceHeader, Unit, coded_error


class FactorCoding:
    """Decodes (or encodes) coded keyframes in stream order; resets at each scene start."""

    def __init__(self, header: SequenceHeader) -> None:
        self.header = header
        self.previous: Keyframe | None = None
        self.model: np.ndarray | None = None
        """The model state after the previous keyframe, when it was coded."""

    def scene_start(self) -> None:
        self.previous = None
        self.model = None

    def check_predecessor(self, k: Keyframe) -> None:
        """F37: prediction and carried models need a previous keyframe of the scene."""
        if k.predicted:
            if self.previous is None:
                raise InvalidValueError("a predicted keyframe has no previous keyframe in its scene",
                                        field="keyframe.coding.predicted")
            if self.previous.rank != k.rank:
                raise InvalidValueError(
                    f"a predicted keyframe of rank {k.rank} follows one of rank {self.previous.rank}",
                    field="keyframe.coding.predicted")
        if k.carry_models and self.model is None:
            raise InvalidValueError("a keyframe carries models but the previous keyframe of its scene is not coded",
                                    field="keyframe.coding.carry_models")

    def _centres(self, k: Keyframe) -> tuple[np.ndarray, np.ndarray]:
        from ptcodec.process.quant import predict_codes

        m, r, n = self.header.tokens, k.rank, self.header.embed_dim
        if k.predicted:
            assert self.previous is not None
            return predict_codes(self.previous, k)
        uz = np.rint(np.asarray(k.u_zero_point, dtype=np.float32)).astype(np.int64)
        vz = np.rint(np.asarray(k.v_zero_point, dtype=np.float32)).astype(np.int64)
        if k.quant_scheme in syntax.PER_TENSOR_SCHEMES:
            return np.full((m, r), uz[0]), np.full((r, n), vz[0])
        return np.ascontiguousarray(np.broadcast_to(uz[None, :], (m, r))), \
            np.ascontiguousarray(np.broadcast_to(vz[:, None], (r, n)))

    def _start_model(self, k: Keyframe) -> np.ndarray:
        from ptcodec.entropy import factors

        if k.carry_models:
            assert self.model is not None
            return self.model.copy()
        return factors.new_model()

    def step(self, unit: Unit, *, encode: bool = False) -> Unit:
        """Pass a unit in stream order. A coded keyframe with coded_factors comes back with its
        codes decoded from them (F34 to F37); one given only as codes, with `encode`, comes back
        with its coded form."""
        if isinstance(unit, SceneInit):
            self.scene_start()
        elif isinstance(unit, Keyframe):
            return self.keyframe(unit, encode=encode)
        return unit

    def keyframe(self, k: Keyframe, *, encode: bool = False) -> Keyframe:
        """`step` for a keyframe."""
        if not k.coded:
            self._advance(k, None)
            return k
        if k.coded_factors or not encode:
            return self.decode(k)
        return self.encode(k)

    def decode(self, k: Keyframe) -> Keyframe:
        """k with the codes that its coded_factors hold (whatever codes it held before)."""
        from ptcodec.entropy import factors

        self.check_predecessor(k)
        centre_u, centre_v = self._centres(k)
        model = self._start_model(k)
        status, position, u, v = factors.decode(k.coded_factors, centre_u, centre_v, k.predicted, model)
        coded_error(status, position, "keyframe.coded_factors")
        k = dataclasses.replace(k, u=u.tobytes(), v=v.tobytes())
        self._advance(k, model)
        return k

    def encode(self, k: Keyframe, *, predicted: bool | None = None, carry_models: bool | None = None) -> Keyframe:
        """Code a coded keyframe's codes. A flag left None is chosen: every allowed value is
        tried and the shortest coding kept (the first, simplest, on ties)."""
        from ptcodec.entropy import factors

        if not k.coded:
            self._advance(k, None)
            return k
        trials = [dataclasses.replace(k, predicted=p, carry_models=c)
                  for p in ((False, True) if predicted is None else (predicted,))
                  for c in ((False, True) if carry_models is None else (carry_models,))]
        best: tuple[Keyframe, np.ndarray] | None = None
        for trial in trials:
            if len(trials) > 1 and not self.allows(trial):
                continue
            self.check_predecessor(trial)
            centre_u, centre_v = self._centres(trial)
            model = self._start_model(trial)
            data = factors.encode(trial.u_codes(), trial.v_codes(), centre_u, centre_v, trial.predicted, model)
            if best is None or len(data) < len(best[0].coded_factors):
                best = (dataclasses.replace(trial, coded_factors=data), model)
        assert best is not None, "intra coding without carried models is always allowed"
        self._advance(*best)
        return best[0]

    def allows(self, k: Keyframe) -> bool:
        """Whether k's predicted and carry_models flags are allowed here (F37)."""
        try:
            self.check_predecessor(k)
        except InvalidValueError:
            return False
        return True

    def _advance(self, k: Keyframe, model: np.ndarray | None) -> None:
        self.previous = k
        self.model = model
