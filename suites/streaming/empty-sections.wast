;; Empty sections and a code section with zero functions.
;; Expected outcomes: (module ...) compiles; assert_malformed / assert_invalid
;; reject with CompileError. Bytes are spelled out so chunk plans cut
;; exactly where the comments say.

;; empty type section (count 0)
(module binary
  "\00\61\73\6d\01\00\00\00\01\01\00")

;; custom section with an empty name and no payload
(module binary
  "\00\61\73\6d\01\00\00\00\00\01\00")

;; every known section present and empty
(module binary
  "\00\61\73\6d\01\00\00\00\01\01\00\02\01\00\03\01"
  "\00\04\01\00\05\01\00\06\01\00\07\01\00\09\01\00"
  "\0c\01\00\0a\01\00\0b\01\00")

;; code section with zero functions and no function section
(module binary
  "\00\61\73\6d\01\00\00\00\0a\01\00")

;; code section with zero functions after a type section
(module binary
  "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\0a\01"
  "\00")

;; type section of size 0: the count itself is missing
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\00")
  "malformed")

;; function section declares one function, code section has zero bodies
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\03\02"
    "\01\00\0a\01\00")
  "malformed")
