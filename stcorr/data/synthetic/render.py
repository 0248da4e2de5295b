"""Drawing the frames of a video and deciding which joints are visible in them.

The body is drawn as shaded, outlined capsules (limbs), a box-shaped trunk, a head with hair and
a face, far parts first. The same drawing, with one grey level per body part, decides joint
visibility: a joint inside the frame is visible when the front-most body part at its pixel is one
of the parts it joins (the trunk only counts for shoulders and hips on its near side). Big opaque
objects (weight discs, a bowling ball) hide joints too; thin ones (bat, club, racket) do not.
Drawing happens on a canvas ``ss`` times the frame size, reduced at the end (anti-aliasing):
pixel i of the frame covers canvas pixels [i * ss, (i + 1) * ss).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from stcorr.data.synthetic.background import jitter, random_colour
from stcorr.data.synthetic.body import BodyShape, Skeleton
from stcorr.data.synthetic.camera import NEAREST, Camera
from stcorr.data.synthetic.props import Prop, Scene

UP = np.array([0.0, 1.0, 0.0])
SKINS = [(255, 224, 196), (241, 194, 167), (224, 172, 138), (198, 134, 99), (160, 104, 72), (110, 70, 50), (80, 52, 38)]
HAIRS = [(20, 15, 10), (60, 40, 25), (110, 75, 40), (190, 150, 90), (140, 140, 140), (90, 30, 20)]

(TORSO, PELVIS, HEAD, NECK, L_UARM, R_UARM, L_FARM, R_FARM, L_HAND, R_HAND,
 L_THIGH, R_THIGH, L_SHIN, R_SHIN, L_FOOT, R_FOOT) = range(1, 17)
# The body parts each joint (JOINTS order) belongs to; TORSO and PELVIS only on their near side.
JOINT_PARTS = [
    {HEAD}, {TORSO, L_UARM}, {TORSO, R_UARM}, {L_UARM, L_FARM}, {R_UARM, R_FARM}, {L_FARM, L_HAND}, {R_FARM, R_HAND},
    {TORSO, PELVIS, L_THIGH}, {TORSO, PELVIS, R_THIGH}, {L_THIGH, L_SHIN}, {R_THIGH, R_SHIN}, {L_SHIN, L_FOOT},
    {R_SHIN, R_FOOT},
]
OCCLUDER = 30  # big opaque objects (weight discs, a bowling ball): they hide joints too
TRUNK_MARGIN = 0.03  # metres behind the trunk's centre a shoulder or hip may lie and still be seen


@dataclass(frozen=True)
class Look:
    skin: tuple
    hair: tuple
    shirt: tuple
    pants: tuple
    shoes: tuple
    short_sleeves: bool
    shorts: bool
    light: np.ndarray  # (2,) image direction the light comes from


def sample_look(rng: np.random.Generator) -> Look:
    shirt = random_colour(rng) if rng.random() < 0.8 else jitter([(235, 235, 235), (40, 40, 45), (128, 128, 130)][rng.integers(3)], rng, 8)
    pants = random_colour(rng, (0.1, 0.7), (0.15, 0.7)) if rng.random() < 0.6 else jitter([(230, 230, 225), (40, 40, 50), (150, 150, 155)][rng.integers(3)], rng, 8)
    angle = rng.uniform(-np.pi * 0.9, -np.pi * 0.1)
    return Look(
        skin=jitter(SKINS[rng.integers(len(SKINS))], rng, 8), hair=jitter(HAIRS[rng.integers(len(HAIRS))], rng, 8),
        shirt=shirt, pants=pants, shoes=jitter([(240, 240, 240), (30, 30, 30), random_colour(rng)][rng.integers(3)], rng, 8),
        short_sleeves=bool(rng.random() < 0.5), shorts=bool(rng.random() < 0.35),
        light=np.array([np.cos(angle), np.sin(angle)]),
    )


@dataclass
class Part:
    kind: str  # capsule, hull, head, ball, disc, racket, neckline
    ident: int  # grey level in the part map; 0: not drawn there
    depth: np.ndarray  # (T,) for sorting, far first
    colour: tuple
    data: dict = field(default_factory=dict)
    shade: np.ndarray | None = None  # (T,) brightness factor
    order: int = 0
    rows: list | None = None  # per-frame numbers for drawing, as plain Python lists (fast to unpack)

    def __post_init__(self):
        self.ok = np.asarray(self.data["ok"], bool) & np.isfinite(self.depth)
        self.depth_list = np.nan_to_num(self.depth).tolist()
        self.shade_list = None if self.shade is None else np.nan_to_num(self.shade, nan=1.0).tolist()
        self.colour = tuple(int(c) for c in self.colour)


def _hull(points: np.ndarray) -> list[tuple[float, float]]:
    """Convex hull (Andrew's monotone chain) of a few 2D points."""
    pts = sorted(set(map(tuple, np.round(points, 2))))
    if len(pts) <= 2:
        return pts

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


class Painter:
    """Builds the parts of one video (vectorised over frames) and draws them frame by frame."""

    def __init__(self, skel: Skeleton, scene: Scene, body: BodyShape, camera: Camera, look: Look, ss: int):
        self.skel, self.scene, self.body, self.cam, self.look, self.ss = skel, scene, body, camera, look, ss
        self.parts: list[Part] = []
        self.joints_xy, self.joints_depth = camera.project(skel.joints)
        trunk_centre = (skel.neck + skel.pelvis) / 2
        self.trunk_depth = camera.project(trunk_centre)[1]
        self.light = tuple(float(v) for v in look.light)
        self._body_parts()
        self._prop_parts()

    # -- geometry helpers ------------------------------------------------------------------
    def _px(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xy, depth = self.cam.project(points)
        return xy * self.ss + self.ss / 2, depth  # pixel i of the frame covers canvas [i*ss, (i+1)*ss)

    def _shade(self, depth: np.ndarray) -> np.ndarray:
        return np.clip(1.0 - 1.0 * (depth - self.trunk_depth) / self.body.scale, 0.72, 1.15)

    def _capsule(self, ident, a3, b3, ra, rb, colour, order, outline=True):
        a, da = self._px(a3)
        b, db = self._px(b3)
        depth = (da + db) / 2
        ra_px, rb_px = self.cam.pixels(ra, da) * self.ss, self.cam.pixels(rb, db) * self.ss
        ok = (np.nan_to_num(np.minimum(da, db)) > NEAREST) & np.isfinite(a).all(-1) & np.isfinite(b).all(-1)
        rows = np.nan_to_num(np.concatenate([a, b, ra_px[:, None], rb_px[:, None]], 1)).tolist()
        self.parts.append(Part("capsule", ident, depth, colour, {
            "a": a, "b": b, "ra": ra_px, "rb": rb_px, "outline": outline, "ok": ok}, self._shade(depth), order, rows))

    # -- the body ----------------------------------------------------------------------------
    def _body_parts(self) -> None:
        self._trunk()
        self._head()
        self._limbs()

    def _trunk(self) -> None:
        """Shirt and shorts as boxes (their 2D outline: the hull of the corners), a neckline in front."""
        skel, body, look, s = self.skel, self.body, self.look, self.body.scale
        left_t, up_t, fwd_t = (skel.torso_axes[:, :, k] for k in range(3))
        across_hips = skel.joint("left_hip") - skel.joint("right_hip")
        left_p = across_hips / np.linalg.norm(across_hips, axis=-1, keepdims=True)
        fwd_p = np.cross(left_p, UP)
        cd = body.chest_half_depth

        def box(centre, left, up, fwd, half_w, heights, half_d):
            return np.stack([centre + left * sx * half_w + up * h + fwd * sz * half_d
                             for sx in (-1, 1) for h in heights for sz in (-1, 1)], 1)

        chest = np.concatenate([
            box(skel.neck, left_t, up_t, fwd_t, body.shoulder_half_width * 0.97, (-0.035 * s,), cd),
            box(skel.pelvis, left_p, UP, fwd_p, body.waist_half_width, (0.10 * s,), cd * 0.85)], 1)
        hips = box(skel.pelvis, left_p, UP, fwd_p, body.waist_half_width * 1.05, (0.11 * s, -0.07 * s), cd * 0.9)
        depth, shade = self.trunk_depth, self._shade(self.trunk_depth)
        ok = depth > NEAREST
        self.parts.append(Part("hull", TORSO, depth, look.shirt, {"pts": self._px(chest)[0], "ok": ok}, shade, 0))
        self.parts.append(Part("hull", PELVIS, depth, look.pants, {"pts": self._px(hips)[0], "ok": ok}, shade, 1))
        to_cam = self.cam.position - skel.neck
        facing = np.sum(fwd_t * to_cam, -1) / np.linalg.norm(to_cam, axis=-1)
        neckline = np.stack([skel.neck + left_t * 0.065 * s + fwd_t * cd * 0.9, skel.neck + fwd_t * cd - up_t * 0.1 * s,
                             skel.neck - left_t * 0.065 * s + fwd_t * cd * 0.9], 1)
        self.parts.append(Part("neckline", 0, depth, look.skin, {"pts": self._px(neckline)[0], "ok": ok & (facing > 0.3)},
                               shade, 2))

    def _head(self) -> None:
        """Neck, and a head of hair with a face disc on the side it looks to (none from behind)."""
        skel, body, look, s = self.skel, self.body, self.look, self.body.scale
        head = skel.joint("head")
        self._capsule(NECK, skel.neck, skel.neck * 0.4 + head * 0.6, body.neck_radius, body.neck_radius, look.skin, 3)
        hair_c, hair_d = self._px(head + UP * 0.01 * s)
        face_c, _ = self._px(head + skel.head_forward * 0.045 * s - UP * 0.012 * s)
        to_cam = self.cam.position - head
        face_ok = np.sum(skel.head_forward * to_cam, -1) / np.linalg.norm(to_cam, axis=-1) > -0.15
        hair_r = self.cam.pixels(body.head_radius * 1.02, hair_d) * self.ss
        face_r = self.cam.pixels(body.head_radius * 0.8, hair_d) * self.ss
        rows = np.concatenate([hair_c, hair_r[:, None], face_c, face_r[:, None]], 1).tolist()
        self.parts.append(Part("head", HEAD, hair_d, look.hair, {
            "c": hair_c, "r": hair_r, "face_ok": face_ok, "skin": look.skin, "ok": hair_d > NEAREST},
            self._shade(hair_d), 4, rows))

    def _limbs(self) -> None:
        skel, b, look = self.skel, self.body, self.look
        forearm = look.skin if look.short_sleeves else look.shirt
        shin = look.skin if look.shorts else look.pants
        for side, ids in (("left", (L_UARM, L_FARM, L_HAND, L_THIGH, L_SHIN, L_FOOT)),
                          ("right", (R_UARM, R_FARM, R_HAND, R_THIGH, R_SHIN, R_FOOT))):
            j = {name: skel.joint(f"{side}_{name}") for name in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")}
            hand, toe, heel = (getattr(skel, f"{side}_{name}") for name in ("hand", "toe", "heel"))
            self._capsule(ids[3], j["hip"], j["knee"], b.thigh_radius, b.shin_radius * 1.1, look.pants, 5)
            self._capsule(ids[4], j["knee"], j["ankle"], b.shin_radius, b.shin_radius * 0.75, shin, 6)
            self._capsule(ids[5], heel, toe, b.foot_radius, b.foot_radius * 0.9, look.shoes, 7)
            self._capsule(ids[0], j["shoulder"], j["elbow"], b.upper_arm_radius, b.forearm_radius * 1.1, look.shirt, 8)
            self._capsule(ids[1], j["elbow"], j["wrist"], b.forearm_radius, b.forearm_radius * 0.8, forearm, 9)
            self._capsule(ids[2], j["wrist"], hand, b.hand_radius * 0.75, b.hand_radius * 0.85, look.skin, 10, outline=False)

    # -- the objects -------------------------------------------------------------------------
    def _prop_parts(self) -> None:
        for prop in self.scene.props:
            getattr(self, f"_prop_{prop.kind}")(prop)

    def _prop_shaft(self, prop: Prop) -> None:
        self._capsule(0, prop.points["start"], prop.points["end"], prop.extra.get("start_radius", prop.radius),
                      prop.radius, prop.colour, 20)

    _prop_bar = _prop_shaft

    def _prop_ball(self, prop: Prop) -> None:
        c, d = self._px(prop.points["centre"])
        ok = np.isfinite(c).all(-1) & (np.nan_to_num(d) > NEAREST)
        r = self.cam.pixels(prop.radius, np.where(ok, d, 1.0)) * self.ss
        rows = np.nan_to_num(np.concatenate([c, r[:, None]], 1)).tolist()
        ident = OCCLUDER if prop.kind == "ball" and prop.radius > 0.08 else 0
        self.parts.append(Part("ball", ident, np.nan_to_num(d), prop.colour, {"ok": ok}, None, 21, rows))

    _prop_glove = _prop_ball

    def _prop_disc(self, prop: Prop) -> None:
        c, axis = prop.points["centre"], prop.points["axis"]
        u = np.cross(axis, UP)
        u /= np.linalg.norm(u, axis=-1, keepdims=True)
        v = np.cross(axis, u)
        t = np.linspace(0, 2 * np.pi, 14, endpoint=False)[None, :, None]
        ring = (np.cos(t) * u[:, None] + np.sin(t) * v[:, None]) * prop.radius
        half = axis[:, None] * prop.extra["thickness"] / 2
        inner, outer = c[:, None] + ring - half, c[:, None] + ring + half
        _, d = self._px(c)
        # the face that looks at the camera is drawn lighter over the rim
        to_cam = self.cam.position - c
        front = np.where((np.sum(axis * to_cam, -1) > 0)[:, None, None], outer, inner)
        self.parts.append(Part("disc", OCCLUDER, d, prop.colour, {
            "pts": self._px(np.concatenate([inner, outer], 1))[0], "face": self._px(front)[0], "ok": d > NEAREST}, None, 22))

    def _prop_racket(self, prop: Prop) -> None:
        c, along, across = prop.points["centre"], prop.points["along"], prop.points["across"]
        t = np.linspace(0, 2 * np.pi, 18, endpoint=False)[None, :, None]
        ring = c[:, None] + np.cos(t) * along[:, None] * prop.extra["half_length"] + np.sin(t) * across[:, None] * prop.extra["half_width"]
        strings = []
        for f in (-0.5, 0.0, 0.5):
            strings += [c + along * prop.extra["half_length"] * f - across * prop.extra["half_width"] * np.sqrt(1 - f * f),
                        c + along * prop.extra["half_length"] * f + across * prop.extra["half_width"] * np.sqrt(1 - f * f),
                        c + across * prop.extra["half_width"] * f - along * prop.extra["half_length"] * np.sqrt(1 - f * f),
                        c + across * prop.extra["half_width"] * f + along * prop.extra["half_length"] * np.sqrt(1 - f * f)]
        _, d = self._px(c)
        self.parts.append(Part("racket", 0, d, prop.colour, {
            "ring": self._px(ring)[0], "strings": self._px(np.stack(strings, 1))[0],
            "w": np.maximum(1.0, self.cam.pixels(0.02, d) * self.ss), "ok": d > NEAREST}, None, 23))

    # -- drawing -----------------------------------------------------------------------------
    def draw(self, t: int, image: Image.Image, part_map: Image.Image) -> None:
        draw, ids = ImageDraw.Draw(image), ImageDraw.Draw(part_map)
        live = [p for p in self.parts if p.ok[t]]
        for part in sorted(live, key=lambda p: (-p.depth_list[t], p.order)):
            colour = part.colour if part.shade is None else _scale(part.colour, part.shade_list[t])
            getattr(self, f"_draw_{part.kind}")(draw, ids, part, t, colour)

    def _draw_capsule(self, draw, ids, part, t, colour):
        ax, ay, bx, by, ra, rb = part.rows[t]
        if part.data["outline"] and min(ra, rb) > 1.2:
            edge = max(0.7, 0.12 * min(ra, rb))
            _capsule(draw, ax, ay, bx, by, ra, rb, _scale(colour, 0.55))
            _capsule(draw, ax, ay, bx, by, ra - edge, rb - edge, colour)
        else:
            _capsule(draw, ax, ay, bx, by, ra, rb, colour)
        if min(ra, rb) > 2.5:
            sx, sy = self.light[0] * 0.15 * (ra + rb), self.light[1] * 0.15 * (ra + rb)
            _capsule(draw, ax + sx, ay + sy, bx + sx, by + sy, ra * 0.4, rb * 0.4, _scale(colour, 1.13, 6))
        if part.ident:
            _capsule(ids, ax, ay, bx, by, ra, rb, part.ident)

    def _draw_hull(self, draw, ids, part, t, colour):
        poly = _hull(part.data["pts"][t])
        if len(poly) < 3:
            return
        width = max(1, int(round(self.ss * 0.6)))
        draw.polygon(poly, fill=colour, outline=_scale(colour, 0.55), width=width)
        ids.polygon(poly, fill=part.ident)

    def _draw_neckline(self, draw, ids, part, t, colour):
        draw.polygon([tuple(p) for p in part.data["pts"][t].tolist()], fill=colour)

    def _draw_head(self, draw, ids, part, t, colour):
        cx, cy, r, fx, fy, fr = part.rows[t]
        _circle(draw, cx, cy, r, _scale(colour, 0.8))
        _circle(draw, cx, cy, r - max(0.6, 0.08 * r), colour)
        if part.data["face_ok"][t]:
            _circle(draw, fx, fy, fr, _scale(part.data["skin"], part.shade_list[t]))
        _circle(ids, cx, cy, r, part.ident)

    def _draw_ball(self, draw, ids, part, t, colour):
        cx, cy, r = part.rows[t]
        r = max(r, 0.8 * self.ss)
        _circle(draw, cx, cy, r, _scale(colour, 0.6))
        _circle(draw, cx, cy, r * 0.85, colour)
        if r > 3:
            _circle(draw, cx + self.light[0] * r * 0.35, cy + self.light[1] * r * 0.35, r * 0.3, _scale(colour, 0.4, 160))
        if part.ident:
            _circle(ids, cx, cy, r, part.ident)

    def _draw_disc(self, draw, ids, part, t, colour):
        rim = _hull(part.data["pts"][t])
        if len(rim) >= 3:
            draw.polygon(rim, fill=_scale(colour, 0.6))
            ids.polygon(rim, fill=part.ident)
        face = [tuple(p) for p in part.data["face"][t].tolist()]
        draw.polygon(face, fill=colour, outline=_scale(colour, 0.5, 40))

    def _draw_racket(self, draw, ids, part, t, colour):
        strings = part.data["strings"][t].tolist()
        for k in range(0, len(strings), 2):
            draw.line([tuple(strings[k]), tuple(strings[k + 1])], fill=(200, 200, 200), width=1)
        ring = [tuple(p) for p in part.data["ring"][t].tolist()]
        draw.line(ring + [ring[0]], fill=colour, width=int(round(part.data["w"][t])), joint="curve")

    # -- labels ------------------------------------------------------------------------------
    def visibility(self, t: int, part_map: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Whether each joint is inside the frame, and whether it is visible, at frame t."""
        width, height = size
        xy, depth = self.joints_xy[t], self.joints_depth[t]
        inside = (xy[:, 0] >= 0) & (xy[:, 0] <= width - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= height - 1) & (depth > NEAREST)
        inside &= np.isfinite(xy).all(-1)
        visible = np.zeros(len(xy), bool)
        for k in np.flatnonzero(inside):
            px = np.clip(np.floor(xy[k] * self.ss + self.ss / 2).astype(int), 0, [part_map.shape[1] - 1, part_map.shape[0] - 1])
            front = int(part_map[px[1], px[0]])
            if front == 0:
                visible[k] = True
            elif front in JOINT_PARTS[k]:
                near_side = depth[k] <= self.trunk_depth[t] + TRUNK_MARGIN * self.body.scale
                visible[k] = near_side if front in (TORSO, PELVIS) else True
        return inside, visible

    def body_box(self, size: tuple[int, int]) -> np.ndarray:
        """Per-frame [x1, y1, x2, y2] of the drawn body (limbs with their thickness), clipped to the frame."""
        head = next(p for p in self.parts if p.kind == "head")
        lo, hi = [head.data["c"] - head.data["r"][:, None]], [head.data["c"] + head.data["r"][:, None]]
        for part in self.parts:
            if part.kind != "capsule" or part.ident == 0:
                continue
            for end, r in (("a", "ra"), ("b", "rb")):
                lo.append(part.data[end] - part.data[r][:, None])
                hi.append(part.data[end] + part.data[r][:, None])
        lo = (np.nanmin(np.stack(lo), 0) - self.ss / 2) / self.ss
        hi = (np.nanmax(np.stack(hi), 0) - self.ss / 2) / self.ss
        width, height = size
        box = np.concatenate([lo, hi], -1)
        return np.clip(box, 0, [width - 1, height - 1, width - 1, height - 1])


def _scale(colour, factor: float, add: float = 0.0) -> tuple[int, int, int]:
    return tuple(min(255, max(0, int(c * factor + add + 0.5))) for c in colour)


def _circle(draw, cx, cy, r, fill):
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)


def _capsule(draw, ax, ay, bx, by, ra, rb, fill):
    ra, rb = max(ra, 0.5), max(rb, 0.5)
    dx, dy = bx - ax, by - ay
    length = math.hypot(dx, dy)
    if length > 1e-3:
        nx, ny = -dy / length, dx / length
        draw.polygon([(ax + nx * ra, ay + ny * ra), (bx + nx * rb, by + ny * rb),
                      (bx - nx * rb, by - ny * rb), (ax - nx * ra, ay - ny * ra)], fill=fill)
    _circle(draw, ax, ay, ra, fill)
    _circle(draw, bx, by, rb, fill)
