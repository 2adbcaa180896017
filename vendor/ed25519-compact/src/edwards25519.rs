use core::ops::{Add, Sub};

use super::error::*;
use super::field25519::*;

#[cfg(not(feature = "opt_size"))]
mod base_table;

#[cfg(not(feature = "opt_size"))]
use self::base_table::BASE_TABLE;

#[derive(Clone, Copy)]
pub struct GeP2 {
    x: Fe,
    y: Fe,
    z: Fe,
}

#[derive(Clone, Copy)]
pub struct GeP3 {
    x: Fe,
    y: Fe,
    z: Fe,
    t: Fe,
}

#[derive(Clone, Copy, Default)]
pub struct GeP1P1 {
    x: Fe,
    y: Fe,
    z: Fe,
    t: Fe,
}

#[derive(Clone, Copy)]
pub struct GePrecomp {
    y_plus_x: Fe,
    y_minus_x: Fe,
    xy2d: Fe,
}

#[derive(Clone, Copy, Default)]
pub struct GeCached {
    y_plus_x: Fe,
    y_minus_x: Fe,
    z: Fe,
    t2d: Fe,
}

// Returns 1 if a == b and 0 otherwise.
#[inline(always)]
fn ct_eq(a: u8, b: u8) -> u8 {
    (((a ^ b) as u32).wrapping_sub(1) >> 31) as u8
}

#[cfg(any(feature = "blind-keys", feature = "opt_size", test))]
impl GeCached {
    #[cfg_attr(feature = "opt_size", inline(never))]
    #[cfg_attr(not(feature = "opt_size"), inline(always))]
    pub fn maybe_set(&mut self, other: &GeCached, do_swap: u8) {
        self.y_plus_x.maybe_set(&other.y_plus_x, do_swap);
        self.y_minus_x.maybe_set(&other.y_minus_x, do_swap);
        self.z.maybe_set(&other.z, do_swap);
        self.t2d.maybe_set(&other.t2d, do_swap);
    }
}

#[cfg(not(feature = "opt_size"))]
impl GePrecomp {
    #[inline(always)]
    fn maybe_set(&mut self, other: &GePrecomp, do_swap: u8) {
        self.y_plus_x.maybe_set(&other.y_plus_x, do_swap);
        self.y_minus_x.maybe_set(&other.y_minus_x, do_swap);
        self.xy2d.maybe_set(&other.xy2d, do_swap);
    }

    // Returns digit * 256^pos * B.
    // It reads the whole row so that the secret digit doesn't leak through timing.
    #[inline(always)]
    fn select(pos: usize, digit: i8) -> GePrecomp {
        let negative = (digit as u8) >> 7;
        let mask = 0u8.wrapping_sub(negative);
        let abs = ((digit as u8) ^ mask).wrapping_sub(mask);
        let mut t = GePrecomp {
            y_plus_x: FE_ONE,
            y_minus_x: FE_ONE,
            xy2d: FE_ZERO,
        };
        for (i, p) in (1u8..).zip(BASE_TABLE[pos].iter()) {
            t.maybe_set(p, ct_eq(abs, i));
        }
        let minus_t = GePrecomp {
            y_plus_x: t.y_minus_x,
            y_minus_x: t.y_plus_x,
            xy2d: t.xy2d.neg(),
        };
        t.maybe_set(&minus_t, negative);
        t
    }
}

impl GeP1P1 {
    #[cfg_attr(feature = "opt_size", inline(never))]
    #[cfg_attr(not(feature = "opt_size"), inline(always))]
    fn to_p2(&self) -> GeP2 {
        GeP2 {
            x: self.x * self.t,
            y: self.y * self.z,
            z: self.z * self.t,
        }
    }

    #[cfg_attr(feature = "opt_size", inline(never))]
    #[cfg_attr(not(feature = "opt_size"), inline(always))]
    fn to_p3(&self) -> GeP3 {
        GeP3 {
            x: self.x * self.t,
            y: self.y * self.z,
            z: self.z * self.t,
            t: self.x * self.y,
        }
    }
}

impl GeP2 {
    #[cfg_attr(feature = "opt_size", inline(never))]
    #[cfg_attr(not(feature = "opt_size"), inline(always))]
    fn zero() -> GeP2 {
        GeP2 {
            x: FE_ZERO,
            y: FE_ONE,
            z: FE_ONE,
        }
    }

    #[inline(always)]
    fn dbl(&self) -> GeP1P1 {
        Self::dbl_xyz(&self.x, &self.y, &self.z)
    }

    // abboot: the doubling on borrowed coordinates, shared by `GeP2::dbl`
    // and `GeP3::dbl`: a `GeP3` is doubled with no `GeP2` copy of it (120
    // bytes of stack under the scalar multiplication with `opt_size`).
    #[cfg_attr(feature = "opt_size", inline(never))]
    #[cfg_attr(not(feature = "opt_size"), inline(always))]
    fn dbl_xyz(x: &Fe, y: &Fe, z: &Fe) -> GeP1P1 {
        let xx = x.square();
        let yy = y.square();
        let b = z.square_and_double();
        let a = *x + *y;
        let aa = a.square();
        let y3 = yy + xx;
        let z3 = yy - xx;
        let x3 = aa - y3;
        let t3 = b - z3;

        GeP1P1 {
            x: x3,
            y: y3,
            z: z3,
            t: t3,
        }
    }

    // abboot: a 32-byte scalar by type, so `a[i >> 3]` is in bounds for
    // the optimiser too (the link-time no-panic proof).
    // abboot: the largest digit is a parameter (`max`, 15 or 7), so that A's
    // table of odd multiples can have 4 entries instead of 8.
    #[cfg(not(feature = "opt_size"))]
    fn slide(a: &[u8; 32], max: i8) -> [i8; 256] {
        let mut r = [0i8; 256];
        Self::slide_into(&mut r, a, max);
        r
    }

    // abboot: `slide` into the caller's array, which it overwrites.
    fn slide_into(r: &mut [i8; 256], a: &[u8; 32], max: i8) {
        for i in 0..256 {
            r[i] = (1 & (a[i >> 3] >> (i & 7))) as i8;
        }
        for i in 0..256 {
            if r[i] != 0 {
                // abboot: `j < 256` tested where it is used, not through
                // `min(7, 256 - i)`, which the optimiser does not follow
                // at opt-level "s".
                for b in 1..7 {
                    let j = i + b;
                    if j >= 256 {
                        break;
                    }
                    if r[j] != 0 {
                        if r[i] + (r[j] << b) <= max {
                            r[i] += r[j] << b;
                            r[j] = 0;
                        } else if r[i] - (r[j] << b) >= -max {
                            r[i] -= r[j] << b;
                            for k in j..256 {
                                if r[k] == 0 {
                                    r[k] = 1;
                                    break;
                                }
                                r[k] = 0;
                            }
                        } else {
                            break;
                        }
                    }
                }
            }
        }
    }

    // abboot: with `opt_size`, the digits of `a` (A's, odd in -7..=7) in
    // the high nibble of each byte of `packed` (zeroed by the caller) and
    // those of `b` (B's, odd in -(2 BI_LEN - 1)..=(2 BI_LEN - 1), see
    // `BI_LEN`) in the low one: one 256-byte array
    // where the scalar multiplication held two. Never inlined: the two
    // slides it packs are on the stack only here.
    #[cfg(feature = "opt_size")]
    #[inline(never)]
    fn slides_packed(packed: &mut [u8; 256], a: &[u8; 32], b: &[u8; 32]) {
        let mut digits = [0i8; 256];
        // One call of `slide_into` (one copy of its code) for both scalars.
        for (scalar, shift, max) in [(a, 4, 7), (b, 0, 2 * BI_LEN as i8 - 1)] {
            GeP2::slide_into(&mut digits, scalar, max);
            for (p, d) in packed.iter_mut().zip(digits.iter()) {
                *p |= ((*d as u8) & 0x0f) << shift;
            }
        }
    }

    #[allow(clippy::comparison_chain)]
    // abboot: never inlined, so that its tables (odd multiples, slides)
    // are on the stack only while it runs.
    #[inline(never)]
    pub fn double_scalarmult_vartime(
        a_scalar: &[u8; 32],
        a_point: &GeP3,
        b_scalar: &[u8; 32],
    ) -> GeP3 {
        // abboot: A's digits odd in -7..=7 (4 odd multiples on the stack,
        // 640 bytes less, a few more additions); B's in -15..=15, or in
        // -7..=7 with `opt_size` (`BI`).
        #[cfg(not(feature = "opt_size"))]
        let aslide = GeP2::slide(a_scalar, 7);
        #[cfg(not(feature = "opt_size"))]
        let bslide = GeP2::slide(b_scalar, 2 * BI_LEN as i8 - 1);
        #[cfg(not(feature = "opt_size"))]
        let digits = |i: usize| (aslide[i], bslide[i]);
        // abboot: with `opt_size`, both scalars' digits in one array of
        // nibbles (256 bytes of stack less; see `slides_packed`).
        #[cfg(feature = "opt_size")]
        let mut packed = [0u8; 256];
        #[cfg(feature = "opt_size")]
        GeP2::slides_packed(&mut packed, a_scalar, b_scalar);
        // `& 255`: `i` counts down from 255, and the optimiser sees the
        // bound (the link-time no-panic proof).
        #[cfg(feature = "opt_size")]
        let digits = |i: usize| unpack(packed[i & 255]);

        let mut ai = [GeCached {
            y_plus_x: FE_ZERO,
            y_minus_x: FE_ZERO,
            z: FE_ZERO,
            t2d: FE_ZERO,
        }; 4]; // A,3A,5A,7A
        ai[0] = a_point.to_cached();
        let a2 = a_point.dbl().to_p3();
        ai[1] = (a2 + ai[0]).to_p3().to_cached();
        ai[2] = (a2 + ai[1]).to_p3().to_cached();
        ai[3] = (a2 + ai[2]).to_p3().to_cached();

        let mut r = GeP2::zero();

        let mut i: usize = 255;
        loop {
            if digits(i) != (0, 0) {
                break;
            }
            if i == 0 {
                return GeP3::zero();
            }
            i -= 1;
        }

        loop {
            let mut t = r.dbl();
            let (ad, bd) = digits(i);
            // abboot: with `opt_size`, the table entries borrowed, added or
            // subtracted by `add_signed` (no copy of them on the stack).
            #[cfg(feature = "opt_size")]
            {
                if ad != 0 {
                    let q = &ai[(ad.unsigned_abs() / 2) as usize & 3];
                    t = t.to_p3().add_signed_cached(q, ad < 0);
                }
                if bd != 0 {
                    let q = &BI[(bd.unsigned_abs() / 2) as usize & (BI_LEN - 1)];
                    t = t.to_p3().add_signed_precomp(q, bd < 0);
                }
            }
            #[cfg(not(feature = "opt_size"))]
            if ad > 0 {
                t = t.to_p3() + ai[((ad / 2) as usize) & 3];
            } else if ad < 0 {
                t = t.to_p3() - ai[((-ad / 2) as usize) & 3];
            }

            #[cfg(not(feature = "opt_size"))]
            if bd > 0 {
                t = t.to_p3() + BI[((bd / 2) as usize) & (BI_LEN - 1)];
            } else if bd < 0 {
                t = t.to_p3() - BI[((-bd / 2) as usize) & (BI_LEN - 1)];
            }

            if i == 0 {
                return t.to_p3();
            }
            r = t.to_p2();
            i -= 1;
        }
    }
}

// abboot: the digits of A and B at one position of `slides_packed`'s array,
// each sign-extended from its nibble.
#[cfg(feature = "opt_size")]
fn unpack(d: u8) -> (i8, i8) {
    ((d as i8) >> 4, ((d << 4) as i8) >> 4)
}

impl GeP3 {
    #[cfg(any(test, feature = "blind-keys", feature = "x25519"))]
    pub fn from_bytes_negate_vartime(s: &[u8; 32]) -> Option<GeP3> {
        let mut p = GeP3::zero();
        p.set_from_bytes_negate_vartime(s).then_some(p)
    }

    // abboot: `from_bytes_negate_vartime` into `self` (where the caller
    // keeps the point, no copy of it); `false` if `s` is not a point, and
    // `self` is then unspecified. Never inlined with `opt_size`, so that
    // its field temporaries (about 1 KB on a Cortex-M) are off the stack
    // when the caller's small order check runs.
    #[cfg_attr(feature = "opt_size", inline(never))]
    pub fn set_from_bytes_negate_vartime(&mut self, s: &[u8; 32]) -> bool {
        let mut encoded_y = *s;
        encoded_y[31] &= 0x7f;
        if Fe::reject_noncanonical(&encoded_y).is_err() {
            return false;
        }

        let y = Fe::from_bytes(s);
        let z = FE_ONE;
        let y_squared = y.square();
        let u = y_squared - FE_ONE;
        let v = (y_squared * FE_D) + FE_ONE;
        let mut x = (u * v).pow25523() * u;

        let vxx = x.square() * v;
        let check = vxx - u;
        if !check.is_zero() {
            let check2 = vxx + u;
            if !check2.is_zero() {
                return false;
            }
            x = x * FE_SQRTM1;
        }

        if x.is_negative() == ((s[31] >> 7) != 0) {
            x = x.neg();
        }

        if x.is_zero() && s[31] >> 7 != 0 {
            return false;
        }

        let t = x * y;

        *self = GeP3 { x, y, z, t };
        true
    }

    #[cfg(any(test, feature = "blind-keys", feature = "x25519"))]
    pub fn from_bytes_vartime(s: &[u8; 32]) -> Option<GeP3> {
        Self::from_bytes_negate_vartime(s).map(|p| GeP3 {
            x: p.x.neg(),
            y: p.y,
            z: p.z,
            t: p.t.neg(),
        })
    }

    // abboot: `to_p2` is gone; its one use was `dbl` (see `GeP2::dbl_xyz`).

    #[cfg_attr(feature = "opt_size", inline(never))]
    #[cfg_attr(not(feature = "opt_size"), inline(always))]
    fn to_cached(&self) -> GeCached {
        GeCached {
            y_plus_x: self.y + self.x,
            y_minus_x: self.y - self.x,
            z: self.z,
            t2d: self.t * FE_D2,
        }
    }

    #[cfg_attr(feature = "opt_size", inline(never))]
    #[cfg_attr(not(feature = "opt_size"), inline(always))]
    // abboot: pub(crate), for VerifyingState::new_in.
    pub(crate) fn zero() -> GeP3 {
        GeP3 {
            x: FE_ZERO,
            y: FE_ONE,
            z: FE_ONE,
            t: FE_ZERO,
        }
    }

    #[inline(always)]
    fn dbl(&self) -> GeP1P1 {
        GeP2::dbl_xyz(&self.x, &self.y, &self.z)
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        let recip = self.z.invert();
        let x = self.x * recip;
        let y = self.y * recip;
        let mut bs = y.to_bytes();
        bs[31] ^= (if x.is_negative() { 1 } else { 0 }) << 7;
        bs
    }

    // Only small-order points have x = 0 once multiplied by 4.
    pub fn has_small_order(&self) -> bool {
        self.dbl().to_p2().dbl().x.is_zero()
    }
}

impl Add<GeP3> for GeP3 {
    type Output = GeP3;

    #[cfg_attr(feature = "opt_size", inline(never))]
    #[cfg_attr(not(feature = "opt_size"), inline(always))]
    fn add(self, other: GeP3) -> GeP3 {
        (self + other.to_cached()).to_p3()
    }
}

impl Sub<GeP3> for GeP3 {
    type Output = GeP3;

    #[cfg_attr(feature = "opt_size", inline(never))]
    #[cfg_attr(not(feature = "opt_size"), inline(always))]
    fn sub(self, other: GeP3) -> GeP3 {
        (self - other.to_cached()).to_p3()
    }
}

impl Add<GeCached> for GeP3 {
    type Output = GeP1P1;

    #[cfg_attr(feature = "opt_size", inline(never))]
    #[cfg_attr(not(feature = "opt_size"), inline(always))]
    fn add(self, _rhs: GeCached) -> GeP1P1 {
        // abboot: with `opt_size`, one addition formula for the four cases
        // (see `add_signed`).
        #[cfg(feature = "opt_size")]
        {
            self.add_signed(
                &_rhs.y_plus_x,
                &_rhs.y_minus_x,
                &_rhs.t2d,
                Some(&_rhs.z),
                false,
            )
        }
        #[cfg(not(feature = "opt_size"))]
        {
            self.add_ref10_gecached(_rhs)
        }
    }
}

impl GeP3 {
    // abboot: ref10's addition, for the build without `opt_size` and for
    // the test that checks `add_signed` against it.
    #[cfg_attr(feature = "opt_size", allow(dead_code))]
    #[inline(always)]
    fn add_ref10_gecached(self, _rhs: GeCached) -> GeP1P1 {
        let y1_plus_x1 = self.y + self.x;
        let y1_minus_x1 = self.y - self.x;
        let a = y1_plus_x1 * _rhs.y_plus_x;
        let b = y1_minus_x1 * _rhs.y_minus_x;
        let c = _rhs.t2d * self.t;
        let zz = self.z * _rhs.z;
        let d = zz + zz;
        let x3 = a - b;
        let y3 = a + b;
        let z3 = d + c;
        let t3 = d - c;

        GeP1P1 {
            x: x3,
            y: y3,
            z: z3,
            t: t3,
        }
    }

    // abboot: with `opt_size`, P + Q, or P - Q when `negative`, for Q given
    // by its y + x, y - x, 2dt (or 2dxy) and z (`None` for a precomputed
    // point, whose z is 1), all borrowed: one addition formula for cached
    // and precomputed points, added or subtracted (-Q trades y + x and
    // y - x and negates the 2dt term), and no copy of Q, neither to pass it
    // by value nor to negate it (each a 120- or 160-byte temporary under
    // the scalar multiplication).
    #[cfg(feature = "opt_size")]
    #[inline(never)]
    fn add_signed(
        &self,
        y_plus_x: &Fe,
        y_minus_x: &Fe,
        t2d: &Fe,
        z: Option<&Fe>,
        negative: bool,
    ) -> GeP1P1 {
        let (qa, qb) = if negative {
            (y_minus_x, y_plus_x)
        } else {
            (y_plus_x, y_minus_x)
        };
        let a = (self.y + self.x) * *qa;
        let b = (self.y - self.x) * *qb;
        let c = *t2d * self.t;
        let d = match z {
            Some(z) => {
                let zz = self.z * *z;
                zz + zz
            }
            None => self.z + self.z,
        };
        let (z3, t3) = if negative {
            (d - c, d + c)
        } else {
            (d + c, d - c)
        };
        GeP1P1 {
            x: a - b,
            y: a + b,
            z: z3,
            t: t3,
        }
    }

    // abboot: with `opt_size`, P + Q or P - Q for an entry of A's odd
    // multiples, borrowed (see `add_signed`).
    #[cfg(feature = "opt_size")]
    #[inline(always)]
    fn add_signed_cached(&self, q: &GeCached, negative: bool) -> GeP1P1 {
        self.add_signed(&q.y_plus_x, &q.y_minus_x, &q.t2d, Some(&q.z), negative)
    }

    // abboot: with `opt_size`, P + Q or P - Q for an entry of B's odd
    // multiples, borrowed (see `add_signed`).
    #[cfg(feature = "opt_size")]
    #[inline(always)]
    fn add_signed_precomp(&self, q: &GePrecomp, negative: bool) -> GeP1P1 {
        self.add_signed(&q.y_plus_x, &q.y_minus_x, &q.xy2d, None, negative)
    }
}

impl Add<GePrecomp> for GeP3 {
    type Output = GeP1P1;

    #[cfg_attr(feature = "opt_size", inline(never))]
    #[cfg_attr(not(feature = "opt_size"), inline(always))]
    fn add(self, _rhs: GePrecomp) -> GeP1P1 {
        #[cfg(feature = "opt_size")]
        {
            self.add_signed_precomp(&_rhs, false)
        }
        #[cfg(not(feature = "opt_size"))]
        {
            self.add_ref10_geprecomp(_rhs)
        }
    }
}

impl GeP3 {
    // abboot: ref10's addition (see `add_ref10_gecached`).
    #[cfg_attr(feature = "opt_size", allow(dead_code))]
    #[inline(always)]
    fn add_ref10_geprecomp(self, _rhs: GePrecomp) -> GeP1P1 {
        let y1_plus_x1 = self.y + self.x;
        let y1_minus_x1 = self.y - self.x;
        let a = y1_plus_x1 * _rhs.y_plus_x;
        let b = y1_minus_x1 * _rhs.y_minus_x;
        let c = _rhs.xy2d * self.t;
        let d = self.z + self.z;
        let x3 = a - b;
        let y3 = a + b;
        let z3 = d + c;
        let t3 = d - c;

        GeP1P1 {
            x: x3,
            y: y3,
            z: z3,
            t: t3,
        }
    }
}

impl Sub<GeCached> for GeP3 {
    type Output = GeP1P1;

    #[cfg_attr(feature = "opt_size", inline(never))]
    #[cfg_attr(not(feature = "opt_size"), inline(always))]
    fn sub(self, _rhs: GeCached) -> GeP1P1 {
        // abboot: with `opt_size`, P + (-Q) by the one addition formula
        // (see `add_signed`).
        #[cfg(feature = "opt_size")]
        {
            self.add_signed_cached(&_rhs, true)
        }
        #[cfg(not(feature = "opt_size"))]
        {
            self.sub_ref10_gecached(_rhs)
        }
    }
}

impl GeP3 {
    // abboot: ref10's subtraction, for the build without `opt_size` and
    // for the test that checks `add_signed` against it.
    #[cfg_attr(feature = "opt_size", allow(dead_code))]
    #[inline(always)]
    fn sub_ref10_gecached(self, _rhs: GeCached) -> GeP1P1 {
        let y1_plus_x1 = self.y + self.x;
        let y1_minus_x1 = self.y - self.x;
        let a = y1_plus_x1 * _rhs.y_minus_x;
        let b = y1_minus_x1 * _rhs.y_plus_x;
        let c = _rhs.t2d * self.t;
        let zz = self.z * _rhs.z;
        let d = zz + zz;
        let x3 = a - b;
        let y3 = a + b;
        let z3 = d - c;
        let t3 = d + c;

        GeP1P1 {
            x: x3,
            y: y3,
            z: z3,
            t: t3,
        }
    }
}

impl Sub<GePrecomp> for GeP3 {
    type Output = GeP1P1;

    #[cfg_attr(feature = "opt_size", inline(never))]
    #[cfg_attr(not(feature = "opt_size"), inline(always))]
    fn sub(self, _rhs: GePrecomp) -> GeP1P1 {
        // abboot: with `opt_size`, P + (-Q) (see `add_signed`).
        #[cfg(feature = "opt_size")]
        {
            self.add_signed_precomp(&_rhs, true)
        }
        #[cfg(not(feature = "opt_size"))]
        {
            self.sub_ref10_geprecomp(_rhs)
        }
    }
}

impl GeP3 {
    // abboot: ref10's subtraction, for the build without `opt_size` and
    // for the test that checks `add_signed` against it.
    #[cfg_attr(feature = "opt_size", allow(dead_code))]
    #[inline(always)]
    fn sub_ref10_geprecomp(self, _rhs: GePrecomp) -> GeP1P1 {
        let y1_plus_x1 = self.y + self.x;
        let y1_minus_x1 = self.y - self.x;
        let a = y1_plus_x1 * _rhs.y_minus_x;
        let b = y1_minus_x1 * _rhs.y_plus_x;
        let c = _rhs.xy2d * self.t;
        let d = self.z + self.z;
        let x3 = a - b;
        let y3 = a + b;
        let z3 = d - c;
        let t3 = d + c;

        GeP1P1 {
            x: x3,
            y: y3,
            z: z3,
            t: t3,
        }
    }
}

#[cfg(any(feature = "blind-keys", feature = "opt_size", test))]
fn ge_precompute(base: &GeP3) -> [GeCached; 16] {
    let base_cached = base.to_cached();
    let mut pc = [GeP3::zero(); 16];
    pc[1] = *base;
    for i in 2..16 {
        pc[i] = if i % 2 == 0 {
            pc[i / 2].dbl().to_p3()
        } else {
            pc[i - 1].add(base_cached).to_p3()
        }
    }
    let mut pc_cached: [GeCached; 16] = Default::default();
    for i in 0..16 {
        pc_cached[i] = pc[i].to_cached();
    }
    pc_cached
}

#[cfg(any(feature = "blind-keys", feature = "opt_size", test))]
pub fn ge_scalarmult(scalar: &[u8], base: &GeP3) -> GeP3 {
    let pc = ge_precompute(base);
    let mut q = GeP3::zero();
    let mut pos = 252;
    loop {
        let slot = (scalar[pos >> 3] >> (pos & 7)) & 15;
        let mut t = pc[0];
        for i in 1..16 {
            t.maybe_set(&pc[i], ct_eq(slot, i as u8));
        }
        q = q.add(t).to_p3();
        if pos == 0 {
            break;
        }
        q = q.dbl().to_p3().dbl().to_p3().dbl().to_p3().dbl().to_p3();
        pos -= 4;
    }
    q
}

#[cfg(any(feature = "opt_size", test))]
fn base_point() -> GeP3 {
    const BXP: [u8; 32] = [
        0x1a, 0xd5, 0x25, 0x8f, 0x60, 0x2d, 0x56, 0xc9, 0xb2, 0xa7, 0x25, 0x95, 0x60, 0xc7, 0x2c,
        0x69, 0x5c, 0xdc, 0xd6, 0xfd, 0x31, 0xe2, 0xa4, 0xc0, 0xfe, 0x53, 0x6e, 0xcd, 0xd3, 0x36,
        0x69, 0x21,
    ];
    const BYP: [u8; 32] = [
        0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
        0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
        0x66, 0x66,
    ];
    let bx = Fe::from_bytes(&BXP);
    let by = Fe::from_bytes(&BYP);
    GeP3 {
        x: bx,
        y: by,
        z: FE_ONE,
        t: bx * by,
    }
}

/// Multiplies the base point by `scalar` in constant time.
///
/// The top bit of the scalar must be clear.
/// Clamped and reduced scalars are fine.
pub fn ge_scalarmult_base(scalar: &[u8]) -> GeP3 {
    debug_assert!(scalar[31] <= 127);

    #[cfg(feature = "opt_size")]
    let p = ge_scalarmult(scalar, &base_point());

    #[cfg(not(feature = "opt_size"))]
    let p = ge_scalarmult_base_comb(scalar);

    p
}

#[cfg(not(feature = "opt_size"))]
fn ge_scalarmult_base_comb(scalar: &[u8]) -> GeP3 {
    let mut e = [0i8; 64];
    for i in 0..32 {
        e[2 * i] = (scalar[i] & 15) as i8;
        e[2 * i + 1] = (scalar[i] >> 4) as i8;
    }

    // Switch to digits between -8 and 8, so the table only needs 1B to 8B per position.
    let mut carry = 0i8;
    for digit in e.iter_mut().take(63) {
        *digit += carry;
        carry = (*digit + 8) >> 4;
        *digit -= carry << 4;
    }
    e[63] += carry;

    // Table rows go up by 256, not 16.
    // So we add the odd digits, multiply by 16, and then add the even ones.
    let mut h = GeP3::zero();
    for pos in 0..32 {
        h = (h + GePrecomp::select(pos, e[2 * pos + 1])).to_p3();
    }
    h = h.dbl().to_p2().dbl().to_p2().dbl().to_p2().dbl().to_p3();
    for pos in 0..32 {
        h = (h + GePrecomp::select(pos, e[2 * pos])).to_p3();
    }
    h
}

#[cfg(all(test, not(feature = "opt_size")))]
#[test]
fn test_scalarmult_base() {
    let canonical = |fe: Fe| Fe::from_bytes(&fe.to_bytes());
    let base = base_point();
    let mut row_base = base;
    for row in BASE_TABLE.iter() {
        let mut p = row_base;
        for entry in row.iter() {
            let recip = p.z.invert();
            let x = p.x * recip;
            let y = p.y * recip;
            assert!(entry.y_plus_x == canonical(y + x));
            assert!(entry.y_minus_x == canonical(y - x));
            assert!(entry.xy2d == canonical(x * y * FE_D2));
            p = p + row_base;
        }
        for _ in 0..8 {
            row_base = row_base.dbl().to_p3();
        }
    }

    let check = |s: &[u8; 32]| {
        assert_eq!(
            ge_scalarmult_base(s).to_bytes(),
            ge_scalarmult(s, &base).to_bytes()
        );
    };
    let mut max = [0xff; 32];
    max[31] = 0x7f;
    // Every digit of this one becomes -8, except the top one, which becomes 8.
    let mut extreme_digits = [0x77; 32];
    extreme_digits[0] = 0x78;
    for s in [[0; 32], max, extreme_digits] {
        check(&s);
    }
    for i in 0..32u8 {
        let mut s = [0u8; 32];
        s.copy_from_slice(&crate::sha512::Hash::hash([i])[..32]);
        s[31] &= 0x7f;
        check(&s);
    }
}

#[cfg(feature = "x25519")]
pub fn ge_to_x25519_vartime(s: &[u8; 32]) -> Option<[u8; 32]> {
    let p = GeP3::from_bytes_vartime(s)?;
    let yed = p.y;
    let x_mont = (FE_ONE + yed) * ((FE_ONE - yed).invert());
    Some(x_mont.to_bytes())
}

pub fn sc_reduce32(s: &mut [u8; 32]) {
    let mut t = [0u8; 64];
    t[0..32].copy_from_slice(s);
    sc_reduce(&mut t);
    s.copy_from_slice(&t[0..32]);
}

// abboot: a compact reduction for verification. `sc_reduce` below is the
// ref10 reduction, unrolled over 24 limbs: about 3 KB of Thumb-2 code, the
// largest single piece of a verifying bootloader. Verification reduces a
// public hash, so this computes the same value a byte at a time in a
// loop of a few hundred bytes; signing keeps `sc_reduce` (constant-time,
// and fast on a host). `abboot_sc_reduce_tests` below checks the two agree.
//
// x mod L of the 64-byte little-endian `s`, a byte at a time from the
// top. With r < L, r' = 256 r + b < 256 L; q = r' >> 252 (at most 9 bits)
// is the quotient by 2^252, so with L = 2^252 + d, r' - q L =
// (r' mod 2^252) - q d lies in (-2^134, 2^252), which is within (-L, L):
// one conditional addition of L brings it to [0, L).
pub fn sc_reduce_vartime(s: &[u8; 64]) -> [u8; 32] {
    // L in 32-bit limbs, little-endian, and a ninth limb for r' < 2^261.
    const L: [u32; 9] = [
        0x5cf5_d3ed,
        0x5812_631a,
        0xa2f7_9cd6,
        0x14de_f9de,
        0,
        0,
        0,
        0x1000_0000,
        0,
    ];
    let byte = |i: usize| s.get(i).copied().unwrap_or(0);
    // The top 31 bytes are a number below 2^248 < L.
    let mut r = [0u32; 9];
    for (k, limb) in r.iter_mut().enumerate() {
        let at = 33 + 4 * k;
        *limb = u32::from_le_bytes([byte(at), byte(at + 1), byte(at + 2), byte(at + 3)]);
    }
    for i in (0..33).rev() {
        let mut carry = u32::from(byte(i));
        for limb in r.iter_mut() {
            let v = *limb;
            *limb = (v << 8) | carry;
            carry = v >> 24;
        }
        let q = i64::from((r[7] >> 28) | (r[8] << 4));
        let mut borrow = 0i64;
        for (limb, &l) in r.iter_mut().zip(&L) {
            let v = i64::from(*limb) - q * i64::from(l) + borrow;
            *limb = v as u32;
            borrow = v >> 32;
        }
        if borrow < 0 {
            let mut carry = 0u64;
            for (limb, &l) in r.iter_mut().zip(&L) {
                let v = u64::from(*limb) + u64::from(l) + carry;
                *limb = v as u32;
                carry = v >> 32;
            }
        }
    }
    let mut out = [0u8; 32];
    for (o, b) in out.iter_mut().zip(r.iter().flat_map(|l| l.to_le_bytes())) {
        *o = b;
    }
    out
}

pub fn sc_reduce(s: &mut [u8]) {
    let mut s0: i64 = 2097151 & load_3i(s);
    let mut s1: i64 = 2097151 & (load_4i(&s[2..6]) >> 5);
    let mut s2: i64 = 2097151 & (load_3i(&s[5..8]) >> 2);
    let mut s3: i64 = 2097151 & (load_4i(&s[7..11]) >> 7);
    let mut s4: i64 = 2097151 & (load_4i(&s[10..14]) >> 4);
    let mut s5: i64 = 2097151 & (load_3i(&s[13..16]) >> 1);
    let mut s6: i64 = 2097151 & (load_4i(&s[15..19]) >> 6);
    let mut s7: i64 = 2097151 & (load_3i(&s[18..21]) >> 3);
    let mut s8: i64 = 2097151 & load_3i(&s[21..24]);
    let mut s9: i64 = 2097151 & (load_4i(&s[23..27]) >> 5);
    let mut s10: i64 = 2097151 & (load_3i(&s[26..29]) >> 2);
    let mut s11: i64 = 2097151 & (load_4i(&s[28..32]) >> 7);
    let mut s12: i64 = 2097151 & (load_4i(&s[31..35]) >> 4);
    let mut s13: i64 = 2097151 & (load_3i(&s[34..37]) >> 1);
    let mut s14: i64 = 2097151 & (load_4i(&s[36..40]) >> 6);
    let mut s15: i64 = 2097151 & (load_3i(&s[39..42]) >> 3);
    let mut s16: i64 = 2097151 & load_3i(&s[42..45]);
    let mut s17: i64 = 2097151 & (load_4i(&s[44..48]) >> 5);
    let s18: i64 = 2097151 & (load_3i(&s[47..50]) >> 2);
    let s19: i64 = 2097151 & (load_4i(&s[49..53]) >> 7);
    let s20: i64 = 2097151 & (load_4i(&s[52..56]) >> 4);
    let s21: i64 = 2097151 & (load_3i(&s[55..58]) >> 1);
    let s22: i64 = 2097151 & (load_4i(&s[57..61]) >> 6);
    let s23: i64 = load_4i(&s[60..64]) >> 3;

    s11 += s23 * 666643;
    s12 += s23 * 470296;
    s13 += s23 * 654183;
    s14 -= s23 * 997805;
    s15 += s23 * 136657;
    s16 -= s23 * 683901;

    s10 += s22 * 666643;
    s11 += s22 * 470296;
    s12 += s22 * 654183;
    s13 -= s22 * 997805;
    s14 += s22 * 136657;
    s15 -= s22 * 683901;

    s9 += s21 * 666643;
    s10 += s21 * 470296;
    s11 += s21 * 654183;
    s12 -= s21 * 997805;
    s13 += s21 * 136657;
    s14 -= s21 * 683901;

    s8 += s20 * 666643;
    s9 += s20 * 470296;
    s10 += s20 * 654183;
    s11 -= s20 * 997805;
    s12 += s20 * 136657;
    s13 -= s20 * 683901;

    s7 += s19 * 666643;
    s8 += s19 * 470296;
    s9 += s19 * 654183;
    s10 -= s19 * 997805;
    s11 += s19 * 136657;
    s12 -= s19 * 683901;

    s6 += s18 * 666643;
    s7 += s18 * 470296;
    s8 += s18 * 654183;
    s9 -= s18 * 997805;
    s10 += s18 * 136657;
    s11 -= s18 * 683901;

    let mut carry6: i64 = (s6 + (1 << 20)) >> 21;
    s7 += carry6;
    s6 -= carry6 << 21;
    let mut carry8: i64 = (s8 + (1 << 20)) >> 21;
    s9 += carry8;
    s8 -= carry8 << 21;
    let mut carry10: i64 = (s10 + (1 << 20)) >> 21;
    s11 += carry10;
    s10 -= carry10 << 21;
    let carry12: i64 = (s12 + (1 << 20)) >> 21;
    s13 += carry12;
    s12 -= carry12 << 21;
    let carry14: i64 = (s14 + (1 << 20)) >> 21;
    s15 += carry14;
    s14 -= carry14 << 21;
    let carry16: i64 = (s16 + (1 << 20)) >> 21;
    s17 += carry16;
    s16 -= carry16 << 21;

    let mut carry7: i64 = (s7 + (1 << 20)) >> 21;
    s8 += carry7;
    s7 -= carry7 << 21;
    let mut carry9: i64 = (s9 + (1 << 20)) >> 21;
    s10 += carry9;
    s9 -= carry9 << 21;
    let mut carry11: i64 = (s11 + (1 << 20)) >> 21;
    s12 += carry11;
    s11 -= carry11 << 21;
    let carry13: i64 = (s13 + (1 << 20)) >> 21;
    s14 += carry13;
    s13 -= carry13 << 21;
    let carry15: i64 = (s15 + (1 << 20)) >> 21;
    s16 += carry15;
    s15 -= carry15 << 21;

    s5 += s17 * 666643;
    s6 += s17 * 470296;
    s7 += s17 * 654183;
    s8 -= s17 * 997805;
    s9 += s17 * 136657;
    s10 -= s17 * 683901;

    s4 += s16 * 666643;
    s5 += s16 * 470296;
    s6 += s16 * 654183;
    s7 -= s16 * 997805;
    s8 += s16 * 136657;
    s9 -= s16 * 683901;

    s3 += s15 * 666643;
    s4 += s15 * 470296;
    s5 += s15 * 654183;
    s6 -= s15 * 997805;
    s7 += s15 * 136657;
    s8 -= s15 * 683901;

    s2 += s14 * 666643;
    s3 += s14 * 470296;
    s4 += s14 * 654183;
    s5 -= s14 * 997805;
    s6 += s14 * 136657;
    s7 -= s14 * 683901;

    s1 += s13 * 666643;
    s2 += s13 * 470296;
    s3 += s13 * 654183;
    s4 -= s13 * 997805;
    s5 += s13 * 136657;
    s6 -= s13 * 683901;

    s0 += s12 * 666643;
    s1 += s12 * 470296;
    s2 += s12 * 654183;
    s3 -= s12 * 997805;
    s4 += s12 * 136657;
    s5 -= s12 * 683901;
    s12 = 0;

    let mut carry0: i64 = (s0 + (1 << 20)) >> 21;
    s1 += carry0;
    s0 -= carry0 << 21;
    let mut carry2: i64 = (s2 + (1 << 20)) >> 21;
    s3 += carry2;
    s2 -= carry2 << 21;
    let mut carry4: i64 = (s4 + (1 << 20)) >> 21;
    s5 += carry4;
    s4 -= carry4 << 21;
    carry6 = (s6 + (1 << 20)) >> 21;
    s7 += carry6;
    s6 -= carry6 << 21;
    carry8 = (s8 + (1 << 20)) >> 21;
    s9 += carry8;
    s8 -= carry8 << 21;
    carry10 = (s10 + (1 << 20)) >> 21;
    s11 += carry10;
    s10 -= carry10 << 21;

    let mut carry1: i64 = (s1 + (1 << 20)) >> 21;
    s2 += carry1;
    s1 -= carry1 << 21;
    let mut carry3: i64 = (s3 + (1 << 20)) >> 21;
    s4 += carry3;
    s3 -= carry3 << 21;
    let mut carry5: i64 = (s5 + (1 << 20)) >> 21;
    s6 += carry5;
    s5 -= carry5 << 21;
    carry7 = (s7 + (1 << 20)) >> 21;
    s8 += carry7;
    s7 -= carry7 << 21;
    carry9 = (s9 + (1 << 20)) >> 21;
    s10 += carry9;
    s9 -= carry9 << 21;
    carry11 = (s11 + (1 << 20)) >> 21;
    s12 += carry11;
    s11 -= carry11 << 21;

    s0 += s12 * 666643;
    s1 += s12 * 470296;
    s2 += s12 * 654183;
    s3 -= s12 * 997805;
    s4 += s12 * 136657;
    s5 -= s12 * 683901;
    s12 = 0;

    carry0 = s0 >> 21;
    s1 += carry0;
    s0 -= carry0 << 21;
    carry1 = s1 >> 21;
    s2 += carry1;
    s1 -= carry1 << 21;
    carry2 = s2 >> 21;
    s3 += carry2;
    s2 -= carry2 << 21;
    carry3 = s3 >> 21;
    s4 += carry3;
    s3 -= carry3 << 21;
    carry4 = s4 >> 21;
    s5 += carry4;
    s4 -= carry4 << 21;
    carry5 = s5 >> 21;
    s6 += carry5;
    s5 -= carry5 << 21;
    carry6 = s6 >> 21;
    s7 += carry6;
    s6 -= carry6 << 21;
    carry7 = s7 >> 21;
    s8 += carry7;
    s7 -= carry7 << 21;
    carry8 = s8 >> 21;
    s9 += carry8;
    s8 -= carry8 << 21;
    carry9 = s9 >> 21;
    s10 += carry9;
    s9 -= carry9 << 21;
    carry10 = s10 >> 21;
    s11 += carry10;
    s10 -= carry10 << 21;
    carry11 = s11 >> 21;
    s12 += carry11;
    s11 -= carry11 << 21;

    s0 += s12 * 666643;
    s1 += s12 * 470296;
    s2 += s12 * 654183;
    s3 -= s12 * 997805;
    s4 += s12 * 136657;
    s5 -= s12 * 683901;

    carry0 = s0 >> 21;
    s1 += carry0;
    s0 -= carry0 << 21;
    carry1 = s1 >> 21;
    s2 += carry1;
    s1 -= carry1 << 21;
    carry2 = s2 >> 21;
    s3 += carry2;
    s2 -= carry2 << 21;
    carry3 = s3 >> 21;
    s4 += carry3;
    s3 -= carry3 << 21;
    carry4 = s4 >> 21;
    s5 += carry4;
    s4 -= carry4 << 21;
    carry5 = s5 >> 21;
    s6 += carry5;
    s5 -= carry5 << 21;
    carry6 = s6 >> 21;
    s7 += carry6;
    s6 -= carry6 << 21;
    carry7 = s7 >> 21;
    s8 += carry7;
    s7 -= carry7 << 21;
    carry8 = s8 >> 21;
    s9 += carry8;
    s8 -= carry8 << 21;
    carry9 = s9 >> 21;
    s10 += carry9;
    s9 -= carry9 << 21;
    carry10 = s10 >> 21;
    s11 += carry10;
    s10 -= carry10 << 21;

    s[0] = (s0 >> 0) as u8;
    s[1] = (s0 >> 8) as u8;
    s[2] = ((s0 >> 16) | (s1 << 5)) as u8;
    s[3] = (s1 >> 3) as u8;
    s[4] = (s1 >> 11) as u8;
    s[5] = ((s1 >> 19) | (s2 << 2)) as u8;
    s[6] = (s2 >> 6) as u8;
    s[7] = ((s2 >> 14) | (s3 << 7)) as u8;
    s[8] = (s3 >> 1) as u8;
    s[9] = (s3 >> 9) as u8;
    s[10] = ((s3 >> 17) | (s4 << 4)) as u8;
    s[11] = (s4 >> 4) as u8;
    s[12] = (s4 >> 12) as u8;
    s[13] = ((s4 >> 20) | (s5 << 1)) as u8;
    s[14] = (s5 >> 7) as u8;
    s[15] = ((s5 >> 15) | (s6 << 6)) as u8;
    s[16] = (s6 >> 2) as u8;
    s[17] = (s6 >> 10) as u8;
    s[18] = ((s6 >> 18) | (s7 << 3)) as u8;
    s[19] = (s7 >> 5) as u8;
    s[20] = (s7 >> 13) as u8;
    s[21] = (s8 >> 0) as u8;
    s[22] = (s8 >> 8) as u8;
    s[23] = ((s8 >> 16) | (s9 << 5)) as u8;
    s[24] = (s9 >> 3) as u8;
    s[25] = (s9 >> 11) as u8;
    s[26] = ((s9 >> 19) | (s10 << 2)) as u8;
    s[27] = (s10 >> 6) as u8;
    s[28] = ((s10 >> 14) | (s11 << 7)) as u8;
    s[29] = (s11 >> 1) as u8;
    s[30] = (s11 >> 9) as u8;
    s[31] = (s11 >> 17) as u8;
}

#[cfg(feature = "blind-keys")]
pub fn sc_mul(a: &[u8], b: &[u8]) -> [u8; 32] {
    let mut s = [0u8; 32];
    sc_muladd(&mut s, a, b, &[0; 32]);
    s
}

#[cfg(feature = "blind-keys")]
pub fn sc_sq(s: &[u8]) -> [u8; 32] {
    sc_mul(s, s)
}

#[cfg(feature = "blind-keys")]
pub fn sc_sqmul(s: &[u8], n: usize, a: &[u8]) -> [u8; 32] {
    let mut t = [0u8; 32];
    t.copy_from_slice(s);
    for _ in 0..n {
        t = sc_sq(&t);
    }
    sc_mul(&t, a)
}

#[cfg(feature = "blind-keys")]
pub fn sc_invert(s: &[u8; 32]) -> [u8; 32] {
    let _10 = sc_sq(s);
    let _11 = sc_mul(s, &_10);
    let _100 = sc_mul(s, &_11);
    let _1000 = sc_sq(&_100);
    let _1010 = sc_mul(&_10, &_1000);
    let _1011 = sc_mul(s, &_1010);
    let _10000 = sc_sq(&_1000);
    let _10110 = sc_sq(&_1011);
    let _100000 = sc_mul(&_1010, &_10110);
    let _100110 = sc_mul(&_10000, &_10110);
    let _1000000 = sc_sq(&_100000);
    let _1010000 = sc_mul(&_10000, &_1000000);
    let _1010011 = sc_mul(&_11, &_1010000);
    let _1100011 = sc_mul(&_10000, &_1010011);
    let _1100111 = sc_mul(&_100, &_1100011);
    let _1101011 = sc_mul(&_100, &_1100111);
    let _10010011 = sc_mul(&_1000000, &_1010011);
    let _10010111 = sc_mul(&_100, &_10010011);
    let _10111101 = sc_mul(&_100110, &_10010111);
    let _11010011 = sc_mul(&_10110, &_10111101);
    let _11100111 = sc_mul(&_1010000, &_10010111);
    let _11101011 = sc_mul(&_100, &_11100111);
    let _11110101 = sc_mul(&_1010, &_11101011);

    let mut recip = sc_mul(&_1011, &_11110101);
    recip = sc_sqmul(&recip, 126, &_1010011);
    recip = sc_sqmul(&recip, 9, &_10);
    recip = sc_mul(&recip, &_11110101);
    recip = sc_sqmul(&recip, 7, &_1100111);
    recip = sc_sqmul(&recip, 9, &_11110101);
    recip = sc_sqmul(&recip, 11, &_10111101);
    recip = sc_sqmul(&recip, 8, &_11100111);
    recip = sc_sqmul(&recip, 9, &_1101011);
    recip = sc_sqmul(&recip, 6, &_1011);
    recip = sc_sqmul(&recip, 14, &_10010011);
    recip = sc_sqmul(&recip, 10, &_1100011);
    recip = sc_sqmul(&recip, 9, &_10010111);
    recip = sc_sqmul(&recip, 10, &_11110101);
    recip = sc_sqmul(&recip, 8, &_11010011);
    recip = sc_sqmul(&recip, 8, &_11101011);
    recip
}

pub fn sc_muladd(s: &mut [u8], a: &[u8], b: &[u8], c: &[u8]) {
    let a0 = 2097151 & load_3i(&a[0..3]);
    let a1 = 2097151 & (load_4i(&a[2..6]) >> 5);
    let a2 = 2097151 & (load_3i(&a[5..8]) >> 2);
    let a3 = 2097151 & (load_4i(&a[7..11]) >> 7);
    let a4 = 2097151 & (load_4i(&a[10..14]) >> 4);
    let a5 = 2097151 & (load_3i(&a[13..16]) >> 1);
    let a6 = 2097151 & (load_4i(&a[15..19]) >> 6);
    let a7 = 2097151 & (load_3i(&a[18..21]) >> 3);
    let a8 = 2097151 & load_3i(&a[21..24]);
    let a9 = 2097151 & (load_4i(&a[23..27]) >> 5);
    let a10 = 2097151 & (load_3i(&a[26..29]) >> 2);
    let a11 = load_4i(&a[28..32]) >> 7;
    let b0 = 2097151 & load_3i(&b[0..3]);
    let b1 = 2097151 & (load_4i(&b[2..6]) >> 5);
    let b2 = 2097151 & (load_3i(&b[5..8]) >> 2);
    let b3 = 2097151 & (load_4i(&b[7..11]) >> 7);
    let b4 = 2097151 & (load_4i(&b[10..14]) >> 4);
    let b5 = 2097151 & (load_3i(&b[13..16]) >> 1);
    let b6 = 2097151 & (load_4i(&b[15..19]) >> 6);
    let b7 = 2097151 & (load_3i(&b[18..21]) >> 3);
    let b8 = 2097151 & load_3i(&b[21..24]);
    let b9 = 2097151 & (load_4i(&b[23..27]) >> 5);
    let b10 = 2097151 & (load_3i(&b[26..29]) >> 2);
    let b11 = load_4i(&b[28..32]) >> 7;
    let c0 = 2097151 & load_3i(&c[0..3]);
    let c1 = 2097151 & (load_4i(&c[2..6]) >> 5);
    let c2 = 2097151 & (load_3i(&c[5..8]) >> 2);
    let c3 = 2097151 & (load_4i(&c[7..11]) >> 7);
    let c4 = 2097151 & (load_4i(&c[10..14]) >> 4);
    let c5 = 2097151 & (load_3i(&c[13..16]) >> 1);
    let c6 = 2097151 & (load_4i(&c[15..19]) >> 6);
    let c7 = 2097151 & (load_3i(&c[18..21]) >> 3);
    let c8 = 2097151 & load_3i(&c[21..24]);
    let c9 = 2097151 & (load_4i(&c[23..27]) >> 5);
    let c10 = 2097151 & (load_3i(&c[26..29]) >> 2);
    let c11 = load_4i(&c[28..32]) >> 7;

    let mut s0: i64 = c0 + a0 * b0;
    let mut s1: i64 = c1 + a0 * b1 + a1 * b0;
    let mut s2: i64 = c2 + a0 * b2 + a1 * b1 + a2 * b0;
    let mut s3: i64 = c3 + a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0;
    let mut s4: i64 = c4 + a0 * b4 + a1 * b3 + a2 * b2 + a3 * b1 + a4 * b0;
    let mut s5: i64 = c5 + a0 * b5 + a1 * b4 + a2 * b3 + a3 * b2 + a4 * b1 + a5 * b0;
    let mut s6: i64 = c6 + a0 * b6 + a1 * b5 + a2 * b4 + a3 * b3 + a4 * b2 + a5 * b1 + a6 * b0;
    let mut s7: i64 =
        c7 + a0 * b7 + a1 * b6 + a2 * b5 + a3 * b4 + a4 * b3 + a5 * b2 + a6 * b1 + a7 * b0;
    let mut s8: i64 = c8
        + a0 * b8
        + a1 * b7
        + a2 * b6
        + a3 * b5
        + a4 * b4
        + a5 * b3
        + a6 * b2
        + a7 * b1
        + a8 * b0;
    let mut s9: i64 = c9
        + a0 * b9
        + a1 * b8
        + a2 * b7
        + a3 * b6
        + a4 * b5
        + a5 * b4
        + a6 * b3
        + a7 * b2
        + a8 * b1
        + a9 * b0;
    let mut s10: i64 = c10
        + a0 * b10
        + a1 * b9
        + a2 * b8
        + a3 * b7
        + a4 * b6
        + a5 * b5
        + a6 * b4
        + a7 * b3
        + a8 * b2
        + a9 * b1
        + a10 * b0;
    let mut s11: i64 = c11
        + a0 * b11
        + a1 * b10
        + a2 * b9
        + a3 * b8
        + a4 * b7
        + a5 * b6
        + a6 * b5
        + a7 * b4
        + a8 * b3
        + a9 * b2
        + a10 * b1
        + a11 * b0;
    let mut s12: i64 = a1 * b11
        + a2 * b10
        + a3 * b9
        + a4 * b8
        + a5 * b7
        + a6 * b6
        + a7 * b5
        + a8 * b4
        + a9 * b3
        + a10 * b2
        + a11 * b1;
    let mut s13: i64 = a2 * b11
        + a3 * b10
        + a4 * b9
        + a5 * b8
        + a6 * b7
        + a7 * b6
        + a8 * b5
        + a9 * b4
        + a10 * b3
        + a11 * b2;
    let mut s14: i64 =
        a3 * b11 + a4 * b10 + a5 * b9 + a6 * b8 + a7 * b7 + a8 * b6 + a9 * b5 + a10 * b4 + a11 * b3;
    let mut s15: i64 =
        a4 * b11 + a5 * b10 + a6 * b9 + a7 * b8 + a8 * b7 + a9 * b6 + a10 * b5 + a11 * b4;
    let mut s16: i64 = a5 * b11 + a6 * b10 + a7 * b9 + a8 * b8 + a9 * b7 + a10 * b6 + a11 * b5;
    let mut s17: i64 = a6 * b11 + a7 * b10 + a8 * b9 + a9 * b8 + a10 * b7 + a11 * b6;
    let mut s18: i64 = a7 * b11 + a8 * b10 + a9 * b9 + a10 * b8 + a11 * b7;
    let mut s19: i64 = a8 * b11 + a9 * b10 + a10 * b9 + a11 * b8;
    let mut s20: i64 = a9 * b11 + a10 * b10 + a11 * b9;
    let mut s21: i64 = a10 * b11 + a11 * b10;
    let mut s22: i64 = a11 * b11;
    let mut s23: i64 = 0;

    let mut carry0: i64 = (s0 + (1 << 20)) >> 21;
    s1 += carry0;
    s0 -= carry0 << 21;
    let mut carry2: i64 = (s2 + (1 << 20)) >> 21;
    s3 += carry2;
    s2 -= carry2 << 21;
    let mut carry4: i64 = (s4 + (1 << 20)) >> 21;
    s5 += carry4;
    s4 -= carry4 << 21;
    let mut carry6: i64 = (s6 + (1 << 20)) >> 21;
    s7 += carry6;
    s6 -= carry6 << 21;
    let mut carry8: i64 = (s8 + (1 << 20)) >> 21;
    s9 += carry8;
    s8 -= carry8 << 21;
    let mut carry10: i64 = (s10 + (1 << 20)) >> 21;
    s11 += carry10;
    s10 -= carry10 << 21;
    let mut carry12: i64 = (s12 + (1 << 20)) >> 21;
    s13 += carry12;
    s12 -= carry12 << 21;
    let mut carry14: i64 = (s14 + (1 << 20)) >> 21;
    s15 += carry14;
    s14 -= carry14 << 21;
    let mut carry16: i64 = (s16 + (1 << 20)) >> 21;
    s17 += carry16;
    s16 -= carry16 << 21;
    let carry18: i64 = (s18 + (1 << 20)) >> 21;
    s19 += carry18;
    s18 -= carry18 << 21;
    let carry20: i64 = (s20 + (1 << 20)) >> 21;
    s21 += carry20;
    s20 -= carry20 << 21;
    let carry22: i64 = (s22 + (1 << 20)) >> 21;
    s23 += carry22;
    s22 -= carry22 << 21;

    let mut carry1: i64 = (s1 + (1 << 20)) >> 21;
    s2 += carry1;
    s1 -= carry1 << 21;
    let mut carry3: i64 = (s3 + (1 << 20)) >> 21;
    s4 += carry3;
    s3 -= carry3 << 21;
    let mut carry5: i64 = (s5 + (1 << 20)) >> 21;
    s6 += carry5;
    s5 -= carry5 << 21;
    let mut carry7: i64 = (s7 + (1 << 20)) >> 21;
    s8 += carry7;
    s7 -= carry7 << 21;
    let mut carry9: i64 = (s9 + (1 << 20)) >> 21;
    s10 += carry9;
    s9 -= carry9 << 21;
    let mut carry11: i64 = (s11 + (1 << 20)) >> 21;
    s12 += carry11;
    s11 -= carry11 << 21;
    let mut carry13: i64 = (s13 + (1 << 20)) >> 21;
    s14 += carry13;
    s13 -= carry13 << 21;
    let mut carry15: i64 = (s15 + (1 << 20)) >> 21;
    s16 += carry15;
    s15 -= carry15 << 21;
    let carry17: i64 = (s17 + (1 << 20)) >> 21;
    s18 += carry17;
    s17 -= carry17 << 21;
    let carry19: i64 = (s19 + (1 << 20)) >> 21;
    s20 += carry19;
    s19 -= carry19 << 21;
    let carry21: i64 = (s21 + (1 << 20)) >> 21;
    s22 += carry21;
    s21 -= carry21 << 21;

    s11 += s23 * 666643;
    s12 += s23 * 470296;
    s13 += s23 * 654183;
    s14 -= s23 * 997805;
    s15 += s23 * 136657;
    s16 -= s23 * 683901;

    s10 += s22 * 666643;
    s11 += s22 * 470296;
    s12 += s22 * 654183;
    s13 -= s22 * 997805;
    s14 += s22 * 136657;
    s15 -= s22 * 683901;

    s9 += s21 * 666643;
    s10 += s21 * 470296;
    s11 += s21 * 654183;
    s12 -= s21 * 997805;
    s13 += s21 * 136657;
    s14 -= s21 * 683901;

    s8 += s20 * 666643;
    s9 += s20 * 470296;
    s10 += s20 * 654183;
    s11 -= s20 * 997805;
    s12 += s20 * 136657;
    s13 -= s20 * 683901;

    s7 += s19 * 666643;
    s8 += s19 * 470296;
    s9 += s19 * 654183;
    s10 -= s19 * 997805;
    s11 += s19 * 136657;
    s12 -= s19 * 683901;

    s6 += s18 * 666643;
    s7 += s18 * 470296;
    s8 += s18 * 654183;
    s9 -= s18 * 997805;
    s10 += s18 * 136657;
    s11 -= s18 * 683901;

    carry6 = (s6 + (1 << 20)) >> 21;
    s7 += carry6;
    s6 -= carry6 << 21;
    carry8 = (s8 + (1 << 20)) >> 21;
    s9 += carry8;
    s8 -= carry8 << 21;
    carry10 = (s10 + (1 << 20)) >> 21;
    s11 += carry10;
    s10 -= carry10 << 21;
    carry12 = (s12 + (1 << 20)) >> 21;
    s13 += carry12;
    s12 -= carry12 << 21;
    carry14 = (s14 + (1 << 20)) >> 21;
    s15 += carry14;
    s14 -= carry14 << 21;
    carry16 = (s16 + (1 << 20)) >> 21;
    s17 += carry16;
    s16 -= carry16 << 21;

    carry7 = (s7 + (1 << 20)) >> 21;
    s8 += carry7;
    s7 -= carry7 << 21;
    carry9 = (s9 + (1 << 20)) >> 21;
    s10 += carry9;
    s9 -= carry9 << 21;
    carry11 = (s11 + (1 << 20)) >> 21;
    s12 += carry11;
    s11 -= carry11 << 21;
    carry13 = (s13 + (1 << 20)) >> 21;
    s14 += carry13;
    s13 -= carry13 << 21;
    carry15 = (s15 + (1 << 20)) >> 21;
    s16 += carry15;
    s15 -= carry15 << 21;

    s5 += s17 * 666643;
    s6 += s17 * 470296;
    s7 += s17 * 654183;
    s8 -= s17 * 997805;
    s9 += s17 * 136657;
    s10 -= s17 * 683901;

    s4 += s16 * 666643;
    s5 += s16 * 470296;
    s6 += s16 * 654183;
    s7 -= s16 * 997805;
    s8 += s16 * 136657;
    s9 -= s16 * 683901;

    s3 += s15 * 666643;
    s4 += s15 * 470296;
    s5 += s15 * 654183;
    s6 -= s15 * 997805;
    s7 += s15 * 136657;
    s8 -= s15 * 683901;

    s2 += s14 * 666643;
    s3 += s14 * 470296;
    s4 += s14 * 654183;
    s5 -= s14 * 997805;
    s6 += s14 * 136657;
    s7 -= s14 * 683901;

    s1 += s13 * 666643;
    s2 += s13 * 470296;
    s3 += s13 * 654183;
    s4 -= s13 * 997805;
    s5 += s13 * 136657;
    s6 -= s13 * 683901;

    s0 += s12 * 666643;
    s1 += s12 * 470296;
    s2 += s12 * 654183;
    s3 -= s12 * 997805;
    s4 += s12 * 136657;
    s5 -= s12 * 683901;
    s12 = 0;

    carry0 = (s0 + (1 << 20)) >> 21;
    s1 += carry0;
    s0 -= carry0 << 21;
    carry2 = (s2 + (1 << 20)) >> 21;
    s3 += carry2;
    s2 -= carry2 << 21;
    carry4 = (s4 + (1 << 20)) >> 21;
    s5 += carry4;
    s4 -= carry4 << 21;
    carry6 = (s6 + (1 << 20)) >> 21;
    s7 += carry6;
    s6 -= carry6 << 21;
    carry8 = (s8 + (1 << 20)) >> 21;
    s9 += carry8;
    s8 -= carry8 << 21;
    carry10 = (s10 + (1 << 20)) >> 21;
    s11 += carry10;
    s10 -= carry10 << 21;

    carry1 = (s1 + (1 << 20)) >> 21;
    s2 += carry1;
    s1 -= carry1 << 21;
    carry3 = (s3 + (1 << 20)) >> 21;
    s4 += carry3;
    s3 -= carry3 << 21;
    carry5 = (s5 + (1 << 20)) >> 21;
    s6 += carry5;
    s5 -= carry5 << 21;
    carry7 = (s7 + (1 << 20)) >> 21;
    s8 += carry7;
    s7 -= carry7 << 21;
    carry9 = (s9 + (1 << 20)) >> 21;
    s10 += carry9;
    s9 -= carry9 << 21;
    carry11 = (s11 + (1 << 20)) >> 21;
    s12 += carry11;
    s11 -= carry11 << 21;

    s0 += s12 * 666643;
    s1 += s12 * 470296;
    s2 += s12 * 654183;
    s3 -= s12 * 997805;
    s4 += s12 * 136657;
    s5 -= s12 * 683901;
    s12 = 0;

    carry0 = s0 >> 21;
    s1 += carry0;
    s0 -= carry0 << 21;
    carry1 = s1 >> 21;
    s2 += carry1;
    s1 -= carry1 << 21;
    carry2 = s2 >> 21;
    s3 += carry2;
    s2 -= carry2 << 21;
    carry3 = s3 >> 21;
    s4 += carry3;
    s3 -= carry3 << 21;
    carry4 = s4 >> 21;
    s5 += carry4;
    s4 -= carry4 << 21;
    carry5 = s5 >> 21;
    s6 += carry5;
    s5 -= carry5 << 21;
    carry6 = s6 >> 21;
    s7 += carry6;
    s6 -= carry6 << 21;
    carry7 = s7 >> 21;
    s8 += carry7;
    s7 -= carry7 << 21;
    carry8 = s8 >> 21;
    s9 += carry8;
    s8 -= carry8 << 21;
    carry9 = s9 >> 21;
    s10 += carry9;
    s9 -= carry9 << 21;
    carry10 = s10 >> 21;
    s11 += carry10;
    s10 -= carry10 << 21;
    carry11 = s11 >> 21;
    s12 += carry11;
    s11 -= carry11 << 21;

    s0 += s12 * 666643;
    s1 += s12 * 470296;
    s2 += s12 * 654183;
    s3 -= s12 * 997805;
    s4 += s12 * 136657;
    s5 -= s12 * 683901;

    carry0 = s0 >> 21;
    s1 += carry0;
    s0 -= carry0 << 21;
    carry1 = s1 >> 21;
    s2 += carry1;
    s1 -= carry1 << 21;
    carry2 = s2 >> 21;
    s3 += carry2;
    s2 -= carry2 << 21;
    carry3 = s3 >> 21;
    s4 += carry3;
    s3 -= carry3 << 21;
    carry4 = s4 >> 21;
    s5 += carry4;
    s4 -= carry4 << 21;
    carry5 = s5 >> 21;
    s6 += carry5;
    s5 -= carry5 << 21;
    carry6 = s6 >> 21;
    s7 += carry6;
    s6 -= carry6 << 21;
    carry7 = s7 >> 21;
    s8 += carry7;
    s7 -= carry7 << 21;
    carry8 = s8 >> 21;
    s9 += carry8;
    s8 -= carry8 << 21;
    carry9 = s9 >> 21;
    s10 += carry9;
    s9 -= carry9 << 21;
    carry10 = s10 >> 21;
    s11 += carry10;
    s10 -= carry10 << 21;

    s[0] = (s0 >> 0) as u8;
    s[1] = (s0 >> 8) as u8;
    s[2] = ((s0 >> 16) | (s1 << 5)) as u8;
    s[3] = (s1 >> 3) as u8;
    s[4] = (s1 >> 11) as u8;
    s[5] = ((s1 >> 19) | (s2 << 2)) as u8;
    s[6] = (s2 >> 6) as u8;
    s[7] = ((s2 >> 14) | (s3 << 7)) as u8;
    s[8] = (s3 >> 1) as u8;
    s[9] = (s3 >> 9) as u8;
    s[10] = ((s3 >> 17) | (s4 << 4)) as u8;
    s[11] = (s4 >> 4) as u8;
    s[12] = (s4 >> 12) as u8;
    s[13] = ((s4 >> 20) | (s5 << 1)) as u8;
    s[14] = (s5 >> 7) as u8;
    s[15] = ((s5 >> 15) | (s6 << 6)) as u8;
    s[16] = (s6 >> 2) as u8;
    s[17] = (s6 >> 10) as u8;
    s[18] = ((s6 >> 18) | (s7 << 3)) as u8;
    s[19] = (s7 >> 5) as u8;
    s[20] = (s7 >> 13) as u8;
    s[21] = (s8 >> 0) as u8;
    s[22] = (s8 >> 8) as u8;
    s[23] = ((s8 >> 16) | (s9 << 5)) as u8;
    s[24] = (s9 >> 3) as u8;
    s[25] = (s9 >> 11) as u8;
    s[26] = ((s9 >> 19) | (s10 << 2)) as u8;
    s[27] = (s10 >> 6) as u8;
    s[28] = ((s10 >> 14) | (s11 << 7)) as u8;
    s[29] = (s11 >> 1) as u8;
    s[30] = (s11 >> 9) as u8;
    s[31] = (s11 >> 17) as u8;
}

pub fn sc_reject_noncanonical(s: &[u8]) -> Result<(), Error> {
    static L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x10,
    ];
    if s.len() != 32 {
        panic!("Invalid compressed length")
    }
    let mut c: u8 = 0;
    let mut n: u8 = 1;

    let mut i = 31;
    loop {
        c |= ((((s[i] as i32) - (L[i] as i32)) >> 8) as u8) & n;
        n &= ((((s[i] ^ L[i]) as i32) - 1) >> 8) as u8;
        if i == 0 {
            break;
        }
        i -= 1;
    }
    if c != 0 {
        Ok(())
    } else {
        Err(Error::NonCanonical)
    }
}

// abboot: B's digits are odd in -(2 BI_LEN - 1)..=(2 BI_LEN - 1), and only
// the first BI_LEN odd multiples of B are kept: without `opt_size` all
// eight (-15..=15); with it the first two, B and 3B (-3..=3: 720 bytes of
// table less, a few more additions per verification); with `small_mul`
// too, the size-first build, B alone (-1..=1: 120 bytes less again, about
// 6 % more instructions per verification).
#[cfg(all(feature = "opt_size", feature = "small_mul"))]
const BI_LEN: usize = 1;
#[cfg(all(feature = "opt_size", not(feature = "small_mul")))]
const BI_LEN: usize = 2;
#[cfg(not(feature = "opt_size"))]
const BI_LEN: usize = 8;

static BI: [GePrecomp; BI_LEN] = first_of(&BI_ALL);

const fn first_of<const N: usize>(all: &[GePrecomp; 8]) -> [GePrecomp; N] {
    let zero = GePrecomp {
        y_plus_x: Fe([0; 5]),
        y_minus_x: Fe([0; 5]),
        xy2d: Fe([0; 5]),
    };
    let mut out = [zero; N];
    let mut i = 0;
    while i < N {
        out[i] = all[i];
        i += 1;
    }
    out
}

// B, 3B, 5B, ..., 15B.
const BI_ALL: [GePrecomp; 8] = [
    GePrecomp {
        y_plus_x: Fe([
            1288382639258501,
            245678601348599,
            269427782077623,
            1462984067271730,
            137412439391563,
        ]),
        y_minus_x: Fe([
            62697248952638,
            204681361388450,
            631292143396476,
            338455783676468,
            1213667448819585,
        ]),
        xy2d: Fe([
            301289933810280,
            1259582250014073,
            1422107436869536,
            796239922652654,
            1953934009299142,
        ]),
    },
    GePrecomp {
        y_plus_x: Fe([
            1601611775252272,
            1720807796594148,
            1132070835939856,
            1260455018889551,
            2147779492816911,
        ]),
        y_minus_x: Fe([
            316559037616741,
            2177824224946892,
            1459442586438991,
            1461528397712656,
            751590696113597,
        ]),
        xy2d: Fe([
            1850748884277385,
            1200145853858453,
            1068094770532492,
            672251375690438,
            1586055907191707,
        ]),
    },
    GePrecomp {
        y_plus_x: Fe([
            769950342298419,
            132954430919746,
            844085933195555,
            974092374476333,
            726076285546016,
        ]),
        y_minus_x: Fe([
            425251763115706,
            608463272472562,
            442562545713235,
            837766094556764,
            374555092627893,
        ]),
        xy2d: Fe([
            1086255230780037,
            274979815921559,
            1960002765731872,
            929474102396301,
            1190409889297339,
        ]),
    },
    GePrecomp {
        y_plus_x: Fe([
            665000864555967,
            2065379846933859,
            370231110385876,
            350988370788628,
            1233371373142985,
        ]),
        y_minus_x: Fe([
            2019367628972465,
            676711900706637,
            110710997811333,
            1108646842542025,
            517791959672113,
        ]),
        xy2d: Fe([
            965130719900578,
            247011430587952,
            526356006571389,
            91986625355052,
            2157223321444601,
        ]),
    },
    GePrecomp {
        y_plus_x: Fe([
            1802695059465007,
            1664899123557221,
            593559490740857,
            2160434469266659,
            927570450755031,
        ]),
        y_minus_x: Fe([
            1725674970513508,
            1933645953859181,
            1542344539275782,
            1767788773573747,
            1297447965928905,
        ]),
        xy2d: Fe([
            1381809363726107,
            1430341051343062,
            2061843536018959,
            1551778050872521,
            2036394857967624,
        ]),
    },
    GePrecomp {
        y_plus_x: Fe([
            1970894096313054,
            528066325833207,
            1619374932191227,
            2207306624415883,
            1169170329061080,
        ]),
        y_minus_x: Fe([
            2070390218572616,
            1458919061857835,
            624171843017421,
            1055332792707765,
            433987520732508,
        ]),
        xy2d: Fe([
            893653801273833,
            1168026499324677,
            1242553501121234,
            1306366254304474,
            1086752658510815,
        ]),
    },
    GePrecomp {
        y_plus_x: Fe([
            213454002618221,
            939771523987438,
            1159882208056014,
            317388369627517,
            621213314200687,
        ]),
        y_minus_x: Fe([
            1971678598905747,
            338026507889165,
            762398079972271,
            655096486107477,
            42299032696322,
        ]),
        xy2d: Fe([
            177130678690680,
            1754759263300204,
            1864311296286618,
            1180675631479880,
            1292726903152791,
        ]),
    },
    GePrecomp {
        y_plus_x: Fe([
            1913163449625248,
            460779200291993,
            2193883288642314,
            1008900146920800,
            1721983679009502,
        ]),
        y_minus_x: Fe([
            1070401523076875,
            1272492007800961,
            1910153608563310,
            2075579521696771,
            1191169788841221,
        ]),
        xy2d: Fe([
            692896803108118,
            500174642072499,
            2068223309439677,
            1162190621851337,
            1426986007309901,
        ]),
    },
];

#[cfg(test)]
pub(crate) fn small_order_points() -> [GeP3; 8] {
    let order_8_point = GeP3::from_bytes_vartime(&[
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ])
    .unwrap();
    let mut points = [order_8_point; 8];
    for i in 1..8 {
        points[i] = points[i - 1] + order_8_point;
    }
    points
}

#[test]
fn test_has_small_order() {
    let mut scalar = [0u8; 32];
    scalar[0] = 42;
    let p = ge_scalarmult_base(&scalar);
    assert!(!p.has_small_order());

    let points = small_order_points();
    for (i, t) in points.iter().enumerate() {
        let encoded = t.to_bytes();
        assert!(points[..i].iter().all(|q| q.to_bytes() != encoded));
        assert!(t.has_small_order());
        assert!(GeP3::from_bytes_negate_vartime(&encoded)
            .unwrap()
            .has_small_order());
        // A point with a small-order part isn't small-order itself.
        assert!(!(p + *t).has_small_order());
    }
}

// abboot: the compact reduction against ref10's, on edge values and on
// pseudo-random ones.
#[cfg(test)]
mod abboot_sc_reduce_tests {
    use super::{sc_reduce, sc_reduce_vartime};

    fn reference(s: &[u8; 64]) -> [u8; 32] {
        let mut t = *s;
        sc_reduce(&mut t);
        let mut out = [0u8; 32];
        out.copy_from_slice(&t[..32]);
        out
    }

    #[test]
    fn agrees_with_ref10() {
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut cases: Vec<[u8; 64]> = vec![[0; 64], [0xFF; 64]];
        // L, L - 1, L + 1, 2L - 1 as 64-byte numbers, and every power of 2.
        let mut l = [0u8; 64];
        l[..32].copy_from_slice(&L);
        cases.push(l);
        let mut below = l;
        below[0] -= 1;
        cases.push(below);
        let mut above = l;
        above[0] += 1;
        cases.push(above);
        let mut twice = [0u8; 64];
        let mut carry = 0u16;
        for (t, &x) in twice.iter_mut().zip(&l) {
            let v = u16::from(x) * 2 + carry;
            *t = v as u8;
            carry = v >> 8;
        }
        twice[0] -= 1;
        cases.push(twice);
        for i in 0..512 {
            let mut p = [0u8; 64];
            p[i / 8] = 1 << (i % 8);
            cases.push(p);
        }
        // xorshift: reproducible pseudo-random 64-byte inputs.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            let mut c = [0u8; 64];
            for b in c.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            cases.push(c);
        }
        for c in &cases {
            assert_eq!(sc_reduce_vartime(c), reference(c), "input {:02x?}", c);
        }
    }
}

// abboot: `add_signed`, what the `opt_size` build adds and subtracts with,
// against ref10's addition and subtraction, for cached points and for
// every entry of the base-point table, on points from pseudo-random
// scalars.
#[cfg(test)]
mod abboot_sub_tests {
    use super::{ge_scalarmult_base, GeP3, BI};

    fn point(seed: u64) -> GeP3 {
        let mut x = seed;
        let mut scalar = [0u8; 32];
        for b in scalar.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        scalar[31] &= 0x7F;
        ge_scalarmult_base(&scalar)
    }

    // Both builds: `+` and `-` (ref10's formulas, or `add_signed` with
    // `opt_size`) against ref10's formulas kept beside them.
    #[test]
    fn additions_and_subtractions_are_ref10_s() {
        for i in 0..64u64 {
            let p = point(0x9E37_79B9_7F4A_7C15 ^ i);
            let q = point(0xD1B5_4A32_D192_ED03 ^ i).to_cached();
            let sum = p.add_ref10_gecached(q).to_p3().to_bytes();
            let difference = p.sub_ref10_gecached(q).to_p3().to_bytes();
            assert_ne!(sum, difference, "cached {}", i);
            assert_eq!((p + q).to_p3().to_bytes(), sum, "cached {}", i);
            assert_eq!((p - q).to_p3().to_bytes(), difference, "cached {}", i);
            for (k, b) in BI.iter().enumerate() {
                let sum = p.add_ref10_geprecomp(*b).to_p3().to_bytes();
                let difference = p.sub_ref10_geprecomp(*b).to_p3().to_bytes();
                assert_ne!(sum, difference, "{} BI[{}]", i, k);
                assert_eq!((p + *b).to_p3().to_bytes(), sum, "{} BI[{}]", i, k);
                assert_eq!((p - *b).to_p3().to_bytes(), difference, "{} BI[{}]", i, k);
            }
        }
    }
}

// abboot: the packed digits of `slides_packed` are, nibble for nibble, the
// two slides they replace.
#[cfg(all(test, feature = "opt_size"))]
mod abboot_slides_tests {
    use super::{unpack, GeP2};

    fn scalar(seed: u64) -> [u8; 32] {
        let mut x = seed;
        let mut s = [0u8; 32];
        for b in s.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        s
    }

    fn slide_max(s: &[u8; 32], max: i8) -> [i8; 256] {
        let mut r = [0i8; 256];
        GeP2::slide_into(&mut r, s, max);
        r
    }

    fn slide(s: &[u8; 32]) -> [i8; 256] {
        slide_max(s, 7)
    }

    // B's largest digit (`BI_LEN`'s odd multiples of B).
    const B_MAX: i8 = 2 * super::BI_LEN as i8 - 1;

    #[test]
    fn packed_slides_are_the_two_slides() {
        let mut edges = vec![[0u8; 32], [0xFF; 32]];
        let mut top = [0u8; 32];
        top[31] = 0x10;
        edges.push(top);
        for i in 0..2000u64 {
            let a = edges.get(i as usize).copied().unwrap_or(scalar(i));
            let b = scalar(!i);
            let (sa, sb) = (slide(&a), slide_max(&b, B_MAX));
            assert!(sa.iter().all(|d| (-7..=7).contains(d)));
            assert!(sb.iter().all(|d| (-B_MAX..=B_MAX).contains(d)));
            let mut packed = [0u8; 256];
            GeP2::slides_packed(&mut packed, &a, &b);
            for k in 0..256 {
                assert_eq!(
                    unpack(packed[k]),
                    (sa[k], sb[k]),
                    "scalar {} digit {}",
                    i,
                    k
                );
            }
        }
    }

    #[test]
    fn slides_give_back_the_scalar() {
        // Every largest digit a table size gives (B's with `BI_LEN` of 1,
        // 2, 4 and 8 odd multiples, A's 7).
        for (i, max) in (0..2000u64).zip([1i8, 3, 7, 15].iter().cycle()) {
            let mut a = scalar(i);
            a[31] &= 0x1F;
            let d = slide_max(&a, *max);
            assert!(
                d.iter().all(|v| *v == 0 || (v % 2 != 0 && v.abs() <= *max)),
                "scalar {} max {}",
                i,
                max
            );
            // sum of d[k] * 2^k, as a little-endian big integer, is `a`.
            let mut acc = [0i32; 34];
            for (k, &v) in d.iter().enumerate() {
                acc[k / 8] += (v as i32) << (k % 8);
            }
            let mut carry = 0i32;
            for (k, byte) in a.iter().enumerate() {
                let v = acc[k] + carry;
                assert_eq!(v.rem_euclid(256) as u8, *byte, "scalar {} byte {}", i, k);
                carry = v.div_euclid(256);
            }
            assert_eq!(acc[32] + carry, 0, "scalar {}", i);
        }
    }
}
