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
        (br $draws)))))
