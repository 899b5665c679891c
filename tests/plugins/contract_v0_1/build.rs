fn main() {
    ferry_sdk::build::embed_manifest_for_contract("0.1.0");
}
