;; Duplicate and out-of-order sections.
;; Expected outcomes: (module ...) compiles; assert_malformed / assert_invalid
;; reject with CompileError. Bytes are spelled out so chunk plans cut
;; exactly where the comments say.

;; two code sections
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\03\02"
    "\01\00\0a\04\01\02\00\0b\0a\04\01\02\00\0b")
  "malformed")

;; code, custom, code sandwich
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\03\02"
    "\01\00\0a\04\01\02\00\0b\00\04\03\6d\69\64\0a\04"
    "\01\02\00\0b")
  "malformed")

;; two type sections
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\01\04"
    "\01\60\00\00")
  "malformed")

;; function section after the code section
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\0a\01"
    "\00\03\01\00")
  "malformed")

;; data count section after the code section
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\03\02"
    "\01\00\0a\04\01\02\00\0b\0c\01\00")
  "malformed")

;; unknown section id 0x0e
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\0e\00")
  "malformed")
