fn main() {
    std::process::exit(ferry_host::cli::main());
}
