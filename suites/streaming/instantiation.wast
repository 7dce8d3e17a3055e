;; Modules whose instantiation has something to get right after a streamed
;; compile: every export kind and what JS sees of it, start functions that
;; return or trap, and active segments at and past the end of their table
;; or memory. None imports anything, so each is instantiated with no import
;; object. `(module ...)` must instantiate; `assert_trap` on a module must
;; compile and then fail to instantiate with a RuntimeError.

;; Every export kind, and each shape JS reads: function arity, table length,
;; memory byte length, global value type and mutability.
(module
  (type $t (func (param i32 i64 f32 f64) (result i32)))
  (func $f (export "four-params") (type $t) (i32.const 0))
  (func (export "no-params"))
  (table (export "table") 3 funcref)
  (table (export "table-externref") 2 externref)
  (memory (export "memory") 2)
  (global (export "i32") i32 (i32.const 7))
  (global (export "i64-mut") (mut i64) (i64.const -1))
  (global (export "f32") f32 (f32.const 1.5))
  (global (export "f64-mut") (mut f64) (f64.const 0.1))
  (global (export "v128") v128 (v128.const i32x4 1 2 3 4))
  (global (export "funcref") funcref (ref.func $f))
  (global (export "externref-mut") (mut externref) (ref.null extern))
  (tag (export "tag") (param i32))
  (elem declare func $f)
)

;; Export names that look like array indices: JS lists them first on
;; `instance.exports`, but an instance's exports keep the module's order.
(module
  (func (export "b") (param i32))
  (func (export "1"))
  (global (export "a") i32 (i32.const 0))
  (memory (export "0") 0)
)

;; The same function, table, memory and global exported under several names.
(module
  (func $f (param i32 i32))
  (export "f1" (func $f))
  (export "f2" (func $f))
  (memory $m 1 2)
  (export "m1" (memory $m))
  (export "m2" (memory $m))
)

;; A start function that returns: it sets a global and calls a helper.
(module
  (global $g (export "g") (mut i32) (i32.const 0))
  (func $helper (global.set $g (i32.add (global.get $g) (i32.const 1))))
  (func $start (call $helper) (i64.const 5) (drop))
  (start $start)
)

;; A start function that traps.
(assert_trap
  (module
    (func $start (unreachable))
    (start $start))
  "unreachable")

;; A start function that traps in a function it calls, after work that does not.
(assert_trap
  (module
    (global $g (mut i32) (i32.const 0))
    (func $trap (global.set $g (i32.const 1)) (unreachable))
    (func $start (nop) (call $trap))
    (start $start))
  "unreachable")

;; A data segment ending exactly at the end of its memory.
(module
  (memory 1)
  (data (i32.const 65533) "abc"))

;; A data segment one byte past the end of its memory.
(assert_trap
  (module
    (memory 1)
    (data (i32.const 65534) "abc"))
  "out of bounds memory access")

;; An empty data segment at the end of its memory, and one past it.
(module
  (memory 1)
  (data (i32.const 65536) ""))
(assert_trap
  (module
    (memory 1)
    (data (i32.const 65537) ""))
  "out of bounds memory access")

;; An offset computed with extended constant expressions: in bounds, then
;; past the end.
(module
  (memory 1)
  (data (i32.add (i32.const 65000) (i32.const 535)) "x"))
(assert_trap
  (module
    (memory 1)
    (data (i32.sub (i32.const 65540) (i32.const 5)) "xy"))
  "out of bounds memory access")

;; An element segment filling its table exactly, and one past it.
(module
  (table 2 funcref)
  (func $f)
  (elem (i32.const 0) $f $f))
(assert_trap
  (module
    (table 2 funcref)
    (func $f)
    (elem (i32.const 1) $f $f))
  "out of bounds table access")

;; An element segment out of bounds wins over a data segment that fits,
;; and a start function that would trap never runs.
(assert_trap
  (module
    (table 1 funcref)
    (memory 1)
    (func $f)
    (elem (i32.const 1) $f)
    (data (i32.const 0) "fits"))
  "out of bounds table access")

;; Two data segments that chunk boundaries cut through, the second on a
;; page boundary.
(module
  (memory 2)
  (data (i32.const 61440)
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  )
  (data (i32.const 65536) "the second page starts here"))
