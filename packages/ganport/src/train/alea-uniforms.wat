;; Dropout's uniforms for alea-uniforms.ts: alea's step, t = a·x₁ + carry/b, carry = ⌊t⌋ and the draw
;; x₃ = t − carry, for eight streams side by side, two to a vector, in float64 as seedrandom computes it;
;; each draw stored as float32 (rounded to nearest, as a Float32Array stores it). Arguments are byte
;; offsets into the imported memory. `npm run build:wasm -w ganport` compiles this file into
;; alea-uniforms-wasm.ts.
(module
  (import "host" "memory" (memory 1))

  ;; `length` draws of each stream into `out`, stream s's at out + 4·s·length. `states` holds the streams'
  ;; x₁, x₂, x₃ and carry by pairs: for streams 2p and 2p + 1, four vectors at states + 64·p.
  (func (export "draw") (param $states i32) (param $out i32) (param $length i32)
    (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $ac v128)
    (local $b1 v128) (local $b2 v128) (local $b3 v128) (local $bc v128)
    (local $c1 v128) (local $c2 v128) (local $c3 v128) (local $cc v128)
    (local $d1 v128) (local $d2 v128) (local $d3 v128) (local $dc v128)
    (local $t v128) (local $f v128) (local $o i32) (local $end i32)
    (local $at1 i32) (local $at2 i32) (local $at3 i32) (local $at4 i32) (local $at5 i32) (local $at6 i32) (local $at7 i32)
    (local.set $a1 (v128.load offset=0 (local.get $states)))
    (local.set $a2 (v128.load offset=16 (local.get $states)))
    (local.set $a3 (v128.load offset=32 (local.get $states)))
    (local.set $ac (v128.load offset=48 (local.get $states)))
    (local.set $b1 (v128.load offset=64 (local.get $states)))
    (local.set $b2 (v128.load offset=80 (local.get $states)))
    (local.set $b3 (v128.load offset=96 (local.get $states)))
    (local.set $bc (v128.load offset=112 (local.get $states)))
    (local.set $c1 (v128.load offset=128 (local.get $states)))
    (local.set $c2 (v128.load offset=144 (local.get $states)))
    (local.set $c3 (v128.load offset=160 (local.get $states)))
    (local.set $cc (v128.load offset=176 (local.get $states)))
    (local.set $d1 (v128.load offset=192 (local.get $states)))
    (local.set $d2 (v128.load offset=208 (local.get $states)))
    (local.set $d3 (v128.load offset=224 (local.get $states)))
    (local.set $dc (v128.load offset=240 (local.get $states)))
    (local.set $at1 (i32.mul (local.get $length) (i32.const 4)))
    (local.set $at2 (i32.mul (local.get $length) (i32.const 8)))
    (local.set $at3 (i32.mul (local.get $length) (i32.const 12)))
    (local.set $at4 (i32.mul (local.get $length) (i32.const 16)))
    (local.set $at5 (i32.mul (local.get $length) (i32.const 20)))
    (local.set $at6 (i32.mul (local.get $length) (i32.const 24)))
    (local.set $at7 (i32.mul (local.get $length) (i32.const 28)))
    (local.set $o (local.get $out))
    (local.set $end (i32.add (local.get $out) (local.get $at1)))
    (block $done
      (loop $draws
        (br_if $done (i32.ge_u (local.get $o) (local.get $end)))
        ;; streams 0 and 1
        (local.set $t
          (f64x2.add
            (f64x2.mul (local.get $a1) (f64x2.splat (f64.const 2091639)))
            (f64x2.mul (local.get $ac) (f64x2.splat (f64.const 0x1p-32)))))
        (local.set $ac (f64x2.floor (local.get $t)))
        (local.set $a1 (local.get $a2))
        (local.set $a2 (local.get $a3))
        (local.set $a3 (f64x2.sub (local.get $t) (local.get $ac)))
        (local.set $f (f32x4.demote_f64x2_zero (local.get $a3)))
        (f32.store (local.get $o) (f32x4.extract_lane 0 (local.get $f)))
        (f32.store (i32.add (local.get $o) (local.get $at1)) (f32x4.extract_lane 1 (local.get $f)))
        ;; streams 2 and 3
        (local.set $t
          (f64x2.add
            (f64x2.mul (local.get $b1) (f64x2.splat (f64.const 2091639)))
            (f64x2.mul (local.get $bc) (f64x2.splat (f64.const 0x1p-32)))))
        (local.set $bc (f64x2.floor (local.get $t)))
        (local.set $b1 (local.get $b2))
        (local.set $b2 (local.get $b3))
        (local.set $b3 (f64x2.sub (local.get $t) (local.get $bc)))
        (local.set $f (f32x4.demote_f64x2_zero (local.get $b3)))
        (f32.store (i32.add (local.get $o) (local.get $at2)) (f32x4.extract_lane 0 (local.get $f)))
        (f32.store (i32.add (local.get $o) (local.get $at3)) (f32x4.extract_lane 1 (local.get $f)))
        ;; streams 4 and 5
        (local.set $t
          (f64x2.add
            (f64x2.mul (local.get $c1) (f64x2.splat (f64.const 2091639)))
            (f64x2.mul (local.get $cc) (f64x2.splat (f64.const 0x1p-32)))))
        (local.set $cc (f64x2.floor (local.get $t)))
        (local.set $c1 (local.get $c2))
        (local.set $c2 (local.get $c3))
        (local.set $c3 (f64x2.sub (local.get $t) (local.get $cc)))
        (local.set $f (f32x4.demote_f64x2_zero (local.get $c3)))
        (f32.store (i32.add (local.get $o) (local.get $at4)) (f32x4.extract_lane 0 (local.get $f)))
        (f32.store (i32.add (local.get $o) (local.get $at5)) (f32x4.extract_lane 1 (local.get $f)))
        ;; streams 6 and 7
        (local.set $t
          (f64x2.add
            (f64x2.mul (local.get $d1) (f64x2.splat (f64.const 2091639)))
            (f64x2.mul (local.get $dc) (f64x2.splat (f64.const 0x1p-32)))))
        (local.set $dc (f64x2.floor (local.get $t)))
        (local.set $d1 (local.get $d2))
        (local.set $d2 (local.get $d3))
        (local.set $d3 (f64x2.sub (local.get $t) (local.get $dc)))
        (local.set $f (f32x4.demote_f64x2_zero (local.get $d3)))
        (f32.store (i32.add (local.get $o) (local.get $at6)) (f32x4.extract_lane 0 (local.get $f)))
        (f32.store (i32.add (local.get $o) (local.get $at7)) (f32x4.extract_lane 1 (local.get $f)))
        (local.set $o (i32.add (local.get $o) (i32.const 4)))
        (br $draws))))

;; Dropout's mask, tfjs's floor(u + keep) / keep in float32, of the uniforms at `src` seen as
  ;; [batch, spatial, channels], written channels first, [batch, channels, spatial], at `dst` (spatial 1
  ;; keeps the order). Four pixels by four channels at a time, transposed in registers, so that reads and
  ;; writes are whole vectors; the pixels and channels left over one row at a time.
  (func (export "mask") (param $src i32) (param $dst i32) (param $batch i32) (param $spatial i32)
    (param $channels i32) (param $keep f32)
    (local $k v128) (local $a v128) (local $b v128) (local $e v128) (local $d v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128) (local $m v128)
    (local $plane i32) (local $pixel i32) (local $in i32) (local $out i32) (local $image i32)
    (local $s i32) (local $c i32) (local $r i32) (local $o i32)
    (local.set $k (f32x4.splat (local.get $keep)))
    (local.set $plane (i32.mul (local.get $spatial) (i32.const 4)))
    (local.set $pixel (i32.mul (local.get $channels) (i32.const 4)))
    (local.set $in (local.get $src))
    (local.set $out (local.get $dst))
    (local.set $image (i32.const 0))
    (block $images
      (loop $each_image
        (br_if $images (i32.ge_u (local.get $image) (local.get $batch)))
        (local.set $s (i32.const 0))
        ;; four pixels at a time
        (block $quads
          (loop $each_quad
            (br_if $quads (i32.gt_u (i32.add (local.get $s) (i32.const 4)) (local.get $spatial)))
            (local.set $c (i32.const 0))
            (block $vectors
              (loop $each_vector
                (br_if $vectors (i32.gt_u (i32.add (local.get $c) (i32.const 4)) (local.get $channels)))
                (local.set $r (i32.add (local.get $in)
                  (i32.mul (i32.add (i32.mul (local.get $s) (local.get $channels)) (local.get $c)) (i32.const 4))))
                (local.set $a (f32x4.div (f32x4.floor (f32x4.add (v128.load (local.get $r)) (local.get $k))) (local.get $k)))
                (local.set $r (i32.add (local.get $r) (local.get $pixel)))
                (local.set $b (f32x4.div (f32x4.floor (f32x4.add (v128.load (local.get $r)) (local.get $k))) (local.get $k)))
                (local.set $r (i32.add (local.get $r) (local.get $pixel)))
                (local.set $e (f32x4.div (f32x4.floor (f32x4.add (v128.load (local.get $r)) (local.get $k))) (local.get $k)))
                (local.set $r (i32.add (local.get $r) (local.get $pixel)))
                (local.set $d (f32x4.div (f32x4.floor (f32x4.add (v128.load (local.get $r)) (local.get $k))) (local.get $k)))
                ;; [a0 b0 a1 b1], [a2 b2 a3 b3], [e0 d0 e1 d1], [e2 d2 e3 d3]
                (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
                (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
                (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $e) (local.get $d)))
                (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $e) (local.get $d)))
                ;; channel c + j of the four pixels: [a_j b_j e_j d_j]
                (local.set $o (i32.add (local.get $out)
                  (i32.mul (i32.add (i32.mul (local.get $c) (local.get $spatial)) (local.get $s)) (i32.const 4))))
                (v128.store (local.get $o)
                  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
                (local.set $o (i32.add (local.get $o) (local.get $plane)))
                (v128.store (local.get $o)
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
                (local.set $o (i32.add (local.get $o) (local.get $plane)))
                (v128.store (local.get $o)
                  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
                (local.set $o (i32.add (local.get $o) (local.get $plane)))
                (v128.store (local.get $o)
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
                (local.set $c (i32.add (local.get $c) (i32.const 4)))
                (br $each_vector)))
            ;; the channels left over, for each of the four pixels
            (block $singles
              (loop $each_single
                (br_if $singles (i32.ge_u (local.get $c) (local.get $channels)))
                (local.set $r (i32.add (local.get $in)
                  (i32.mul (i32.add (i32.mul (local.get $s) (local.get $channels)) (local.get $c)) (i32.const 4))))
                (local.set $o (i32.add (local.get $out)
                  (i32.mul (i32.add (i32.mul (local.get $c) (local.get $spatial)) (local.get $s)) (i32.const 4))))
                (f32.store offset=0 (local.get $o) (call $masked (f32.load (local.get $r)) (local.get $keep)))
                (local.set $r (i32.add (local.get $r) (local.get $pixel)))
                (f32.store offset=4 (local.get $o) (call $masked (f32.load (local.get $r)) (local.get $keep)))
                (local.set $r (i32.add (local.get $r) (local.get $pixel)))
                (f32.store offset=8 (local.get $o) (call $masked (f32.load (local.get $r)) (local.get $keep)))
                (local.set $r (i32.add (local.get $r) (local.get $pixel)))
                (f32.store offset=12 (local.get $o) (call $masked (f32.load (local.get $r)) (local.get $keep)))
                (local.set $c (i32.add (local.get $c) (i32.const 1)))
                (br $each_single)))
            (local.set $s (i32.add (local.get $s) (i32.const 4)))
            (br $each_quad)))
        ;; the pixels left over, one at a time: four channels to a vector, its lanes stored a plane apart
        (block $rows
          (loop $each_row
            (br_if $rows (i32.ge_u (local.get $s) (local.get $spatial)))
            (local.set $r (i32.add (local.get $in) (i32.mul (i32.mul (local.get $s) (local.get $channels)) (i32.const 4))))
            (local.set $o (i32.add (local.get $out) (i32.mul (local.get $s) (i32.const 4))))
            (local.set $c (i32.const 0))
            (block $row_vectors
              (loop $each_row_vector
                (br_if $row_vectors (i32.gt_u (i32.add (local.get $c) (i32.const 4)) (local.get $channels)))
                (local.set $m (f32x4.div (f32x4.floor (f32x4.add (v128.load (local.get $r)) (local.get $k))) (local.get $k)))
                (f32.store (local.get $o) (f32x4.extract_lane 0 (local.get $m)))
                (f32.store (i32.add (local.get $o) (local.get $plane)) (f32x4.extract_lane 1 (local.get $m)))
                (f32.store (i32.add (local.get $o) (i32.mul (local.get $plane) (i32.const 2)))
                  (f32x4.extract_lane 2 (local.get $m)))
                (f32.store (i32.add (local.get $o) (i32.mul (local.get $plane) (i32.const 3)))
                  (f32x4.extract_lane 3 (local.get $m)))
                (local.set $o (i32.add (local.get $o) (i32.mul (local.get $plane) (i32.const 4))))
                (local.set $r (i32.add (local.get $r) (i32.const 16)))
                (local.set $c (i32.add (local.get $c) (i32.const 4)))
                (br $each_row_vector)))
            (block $row_singles
              (loop $each_row_single
                (br_if $row_singles (i32.ge_u (local.get $c) (local.get $channels)))
                (f32.store (local.get $o) (call $masked (f32.load (local.get $r)) (local.get $keep)))
                (local.set $o (i32.add (local.get $o) (local.get $plane)))
                (local.set $r (i32.add (local.get $r) (i32.const 4)))
                (local.set $c (i32.add (local.get $c) (i32.const 1)))
                (br $each_row_single)))
            (local.set $s (i32.add (local.get $s) (i32.const 1)))
            (br $each_row)))
        (local.set $in (i32.add (local.get $in) (i32.mul (local.get $spatial) (local.get $pixel))))
        (local.set $out (i32.add (local.get $out) (i32.mul (local.get $spatial) (local.get $pixel))))
        (local.set $image (i32.add (local.get $image) (i32.const 1)))
        (br $each_image))))

  ;; One mask value: floor(u + keep) / keep.
  (func $masked (param $u f32) (param $keep f32) (result f32)
    (f32.div (f32.floor (f32.add (local.get $u) (local.get $keep))) (local.get $keep)))
)
