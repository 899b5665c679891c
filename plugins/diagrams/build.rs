fn main() {
    ferry_sdk::build::embed_manifest();
}
