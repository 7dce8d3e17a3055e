;; Declared lengths far larger than the data.
;; Expected outcomes: (module ...) compiles; assert_malformed / assert_invalid
;; reject with CompileError. Bytes are spelled out so chunk plans cut
;; exactly where the comments say.

;; section size 0xFFFFFFFF on a short body
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\ff\ff\ff\ff\0f\01\60"
    "\00\00")
  "malformed")

;; custom section size 0xFFFFFFFF
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\00\ff\ff\ff\ff\0f\01\78")
  "malformed")

;; function body size 0xFFFFFFFF
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\03\02"
    "\01\00\0a\08\01\ff\ff\ff\ff\0f\00\0b")
  "malformed")

;; code section claims 0xFFFFFFFF functions
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\03\02"
    "\01\00\0a\08\ff\ff\ff\ff\0f\02\00\0b")
  "malformed")

;; type section claims 0xFFFFFFFF types
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\08\ff\ff\ff\ff\0f\60"
    "\00\00")
  "malformed")

;; function section claims 100000 functions, code section has one
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\03\04"
    "\a0\8d\06\00\0a\04\01\02\00\0b")
  "malformed")

;; data segment of declared length 0xFFFFFFFF
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\05\03\01\00\01\0b\0c\01"
    "\00\41\00\0b\ff\ff\ff\ff\0f\61\62")
  "malformed")
