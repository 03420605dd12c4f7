;; The generator's Adam update and the EMA generator, each one pass over its arrays, four values at a
;; time (SIMD), for host-update.ts. Every operation is the step graph's own, in its order and in
;; float32, so the results are the same bits; arguments are byte offsets into the imported memory.
;; `npm run build:wasm -w ganport` compiles this file into host-update-wasm.ts.
(module
  (import "host" "memory" (memory 1))

  ;; m ← m·b1 + g·(1 − b1); v ← v·b2 + (g·g)·(1 − b2); w ← (m / (√v + epsilon))·negativeStep + w
  (func (export "adam")
    (param $w i32) (param $m i32) (param $v i32) (param $g i32) (param $count i32)
    (param $b1 f32) (param $oneMinusB1 f32) (param $b2 f32) (param $oneMinusB2 f32)
    (param $epsilon f32) (param $negativeStep f32)
    (local $end i32) (local $vectorEnd i32)
    (local $gv v128) (local $mv v128) (local $vv v128)
    (local $g1 f32) (local $m1 f32) (local $v1 f32)
    (local.set $end (i32.add (local.get $g) (i32.shl (local.get $count) (i32.const 2))))
    (local.set $vectorEnd (i32.add (local.get $g) (i32.shl (i32.and (local.get $count) (i32.const -4)) (i32.const 2))))
    (block $vectorsDone
      (loop $vectors
        (br_if $vectorsDone (i32.ge_u (local.get $g) (local.get $vectorEnd)))
        (local.set $gv (v128.load (local.get $g)))
        (local.set $mv
          (f32x4.add
            (f32x4.mul (v128.load (local.get $m)) (f32x4.splat (local.get $b1)))
            (f32x4.mul (local.get $gv) (f32x4.splat (local.get $oneMinusB1)))))
        (local.set $vv
          (f32x4.add
            (f32x4.mul (v128.load (local.get $v)) (f32x4.splat (local.get $b2)))
            (f32x4.mul (f32x4.mul (local.get $gv) (local.get $gv)) (f32x4.splat (local.get $oneMinusB2)))))
        (v128.store (local.get $m) (local.get $mv))
        (v128.store (local.get $v) (local.get $vv))
        (v128.store (local.get $w)
          (f32x4.add
            (f32x4.mul
              (f32x4.div (local.get $mv) (f32x4.add (f32x4.sqrt (local.get $vv)) (f32x4.splat (local.get $epsilon))))
              (f32x4.splat (local.get $negativeStep)))
            (v128.load (local.get $w))))
        (local.set $w (i32.add (local.get $w) (i32.const 16)))
        (local.set $m (i32.add (local.get $m) (i32.const 16)))
        (local.set $v (i32.add (local.get $v) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (br $vectors)))
    ;; the last count mod 4 values, one at a time
    (block $done
      (loop $scalars
        (br_if $done (i32.ge_u (local.get $g) (local.get $end)))
        (local.set $g1 (f32.load (local.get $g)))
        (local.set $m1
          (f32.add
            (f32.mul (f32.load (local.get $m)) (local.get $b1))
            (f32.mul (local.get $g1) (local.get $oneMinusB1))))
        (local.set $v1
          (f32.add
            (f32.mul (f32.load (local.get $v)) (local.get $b2))
            (f32.mul (f32.mul (local.get $g1) (local.get $g1)) (local.get $oneMinusB2))))
        (f32.store (local.get $m) (local.get $m1))
        (f32.store (local.get $v) (local.get $v1))
        (f32.store (local.get $w)
          (f32.add
            (f32.mul
              (f32.div (local.get $m1) (f32.add (f32.sqrt (local.get $v1)) (local.get $epsilon)))
              (local.get $negativeStep))
            (f32.load (local.get $w))))
        (local.set $w (i32.add (local.get $w) (i32.const 4)))
        (local.set $m (i32.add (local.get $m) (i32.const 4)))
        (local.set $v (i32.add (local.get $v) (i32.const 4)))
        (local.set $g (i32.add (local.get $g) (i32.const 4)))
        (br $scalars))))

  ;; average ← average·decay + source·keep
  (func (export "ema")
    (param $average i32) (param $source i32) (param $count i32) (param $decay f32) (param $keep f32)
    (local $end i32) (local $vectorEnd i32)
    (local.set $end (i32.add (local.get $source) (i32.shl (local.get $count) (i32.const 2))))
    (local.set $vectorEnd
      (i32.add (local.get $source) (i32.shl (i32.and (local.get $count) (i32.const -4)) (i32.const 2))))
    (block $vectorsDone
      (loop $vectors
        (br_if $vectorsDone (i32.ge_u (local.get $source) (local.get $vectorEnd)))
        (v128.store (local.get $average)
          (f32x4.add
            (f32x4.mul (v128.load (local.get $average)) (f32x4.splat (local.get $decay)))
            (f32x4.mul (v128.load (local.get $source)) (f32x4.splat (local.get $keep)))))
        (local.set $average (i32.add (local.get $average) (i32.const 16)))
        (local.set $source (i32.add (local.get $source) (i32.const 16)))
        (br $vectors)))
    (block $done
      (loop $scalars
        (br_if $done (i32.ge_u (local.get $source) (local.get $end)))
        (f32.store (local.get $average)
          (f32.add
            (f32.mul (f32.load (local.get $average)) (local.get $decay))
            (f32.mul (f32.load (local.get $source)) (local.get $keep))))
        (local.set $average (i32.add (local.get $average) (i32.const 4)))
        (local.set $source (i32.add (local.get $source) (i32.const 4)))
        (br $scalars)))))
