;; Over-long LEB128 encodings of section sizes, counts and body sizes.
;; Expected outcomes: (module ...) compiles; assert_malformed / assert_invalid
;; reject with CompileError. Bytes are spelled out so chunk plans cut
;; exactly where the comments say.

;; type section size as a 2-byte LEB (over-long but within 5 bytes: valid)
(module binary
  "\00\61\73\6d\01\00\00\00\01\84\00\01\60\00\00\03"
  "\02\01\00\0a\04\01\02\00\0b")

;; type section size as a 3-byte LEB (over-long but within 5 bytes: valid)
(module binary
  "\00\61\73\6d\01\00\00\00\01\84\80\00\01\60\00\00"
  "\03\02\01\00\0a\04\01\02\00\0b")

;; type section size as a 4-byte LEB (over-long but within 5 bytes: valid)
(module binary
  "\00\61\73\6d\01\00\00\00\01\84\80\80\00\01\60\00"
  "\00\03\02\01\00\0a\04\01\02\00\0b")

;; type section size as a 5-byte LEB (over-long but within 5 bytes: valid)
(module binary
  "\00\61\73\6d\01\00\00\00\01\84\80\80\80\00\01\60"
  "\00\00\03\02\01\00\0a\04\01\02\00\0b")

;; code section size as a 5-byte LEB, function count and body size over-long too
(module binary
  "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\03\02"
  "\01\00\0a\8a\80\80\80\00\81\80\00\82\80\80\80\00"
  "\00\0b")

;; section size as a 6-byte LEB: longer than u32 allows
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\84\80\80\80\80\00\01"
    "\60\00\00")
  "malformed")

;; 5-byte section size whose last byte sets bits above 32
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\84\80\80\80\70\01\60"
    "\00\00")
  "malformed")

;; custom section with a 5-byte size LEB, then the rest of the module
(module binary
  "\00\61\73\6d\01\00\00\00\00\85\80\80\80\00\01\78"
  "\61\62\63\01\04\01\60\00\00\03\02\01\00\0a\04\01"
  "\02\00\0b")
