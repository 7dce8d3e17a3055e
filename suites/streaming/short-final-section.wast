;; A final section whose size LEB plus payload is under 5 bytes.
;; Expected outcomes: (module ...) compiles; assert_malformed / assert_invalid
;; reject with CompileError. Bytes are spelled out so chunk plans cut
;; exactly where the comments say.

;; last section is a 3-byte data count section (count 0)
(module binary
  "\00\61\73\6d\01\00\00\00\0c\01\00")

;; last section is a 3-byte start section
(module binary
  "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\03\02"
  "\01\00\08\01\00\0a\04\01\02\00\0b")

;; last section is a 3-byte custom section
(module binary
  "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\03\02"
  "\01\00\0a\04\01\02\00\0b\00\01\00")

;; last section is a 4-byte code section with one empty-bodied function... (size LEB + payload < 5)
(module binary
  "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\03\02"
  "\01\00\0a\04\01\02\00\0b")

;; last section header with its payload missing
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\0a\01")
  "malformed")

;; last section is a lone id byte
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\0a")
  "malformed")
