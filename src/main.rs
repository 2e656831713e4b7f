use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = labelflow::cli::Cli::parse();
    let code = labelflow::cli::run(cli).await;
    std::process::exit(code);
}
