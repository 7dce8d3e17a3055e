fn main() {
    std::process::exit(streamconform::cli::main());
}
